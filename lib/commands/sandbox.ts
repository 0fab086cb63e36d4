/** `smartlead-sync sandbox`: a local Smartlead-compatible API for demos and tests. */
import { Command, Option } from "commander";
import { parseRate } from "../client/rate_limiter.ts";
import { UsageError } from "../errors.ts";
import { ADD_ANSWERS, type Behaviour, STALE_ID_ANSWERS } from "../sandbox/behaviour.ts";
import { formatBanner, type RateConfig, startSandbox } from "../sandbox/server.ts";
import { collect, type CommandContext, intOption } from "./context.ts";

/** Why the sandbox could not listen on `port`, as a usage error (exit 2). */
export function listenError(e: unknown, port: number): unknown {
  if (e instanceof Deno.errors.AddrInUse) {
    return new UsageError(
      `cannot listen on 127.0.0.1:${port}: the port is in use`,
      "pick another --port, or --port 0 for any free one",
    );
  }
  if (e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotCapable) {
    return new UsageError(
      `cannot listen on 127.0.0.1:${port}: permission denied`,
      "ports below 1024 need privileges: pick a higher --port, or --port 0",
    );
  }
  return e;
}

export const sandboxCommand = (ctx: CommandContext): Command =>
  new Command("sandbox")
    .summary("run a local Smartlead-compatible API (for demos and tests)")
    .option("--port <n>", "port on 127.0.0.1 (default 0: any free port)")
    .option("--api-key <key>", "the key it accepts (default sandbox-key)")
    .option("--campaign-id <id>", "a campaign that exists (repeatable; default 1)", collect)
    .option("--rate <n/seconds>", "rate limit to enforce, e.g. 10/2 or 60/60 (default none)")
    .option("--no-retry-after", "answer 429s without Retry-After (Smartlead sometimes does)")
    .option("--lockout <seconds>", "after each 429, refuse everything for this long")
    .addOption(
      new Option("--reset <style>", "x-ratelimit-reset as seconds from now, a Unix time, or absent")
        .choices(["delta", "epoch", "none"]),
    )
    .option(
      "--block-user-agent <text>",
      "answer 403 'error code: 1010' (Cloudflare's block) to User-Agents containing this",
    )
    .option("--credits <n>", "lead credits available (default unlimited)")
    .option("--latency-ms <ms>", "delay added to every answer")
    .addOption(
      new Option("--add-answer <shape>", "shape of add-leads answers (default live)").choices(
        ADD_ANSWERS,
      ),
    )
    .option("--no-id-map", "never return emailToLeadIdMap, even when asked")
    .addOption(
      new Option("--update-answer <answer>", "ok-false: updates answer {ok:false}, apply nothing")
        .choices(["ok", "ok-false"]),
    )
    .addOption(
      new Option("--stale-id <answer>", "what a lead id not in the campaign answers (default 404)")
        .choices(STALE_ID_ANSWERS),
    )
    .option("--max-custom-fields <n>", "custom fields per lead before a 400 (default 200)")
    .addOption(
      new Option(
        "--export-custom-fields <how>",
        "how leads-export writes custom fields: one JSON column (default) or a column each",
      ).choices(["json", "columns"]),
    )
    .addOption(
      new Option(
        "--stale-lead-status <status>",
        "what update/delete/pause/resume/unsubscribe answer for a lead not in the campaign (default 404)",
      ).choices(["404", "500"]),
    )
    .option("--json", "print {url, api_key, campaign_ids} as JSON on stdout when ready")
    .action(async (flags: Record<string, unknown>) => {
      const rateText = flags.rate as string | undefined;
      const parsed = rateText === undefined ? null : parseRate(rateText);
      if (parsed === undefined) {
        throw new UsageError(`--rate ${rateText}: expected n/seconds`, "e.g. 10/2");
      }
      const lockout = flags.lockout === undefined ? undefined : Number(flags.lockout);
      if (lockout !== undefined && !(lockout >= 0 && lockout <= 3600)) {
        throw new UsageError(
          `--lockout ${flags.lockout}: expected seconds from 0 to 3600`,
          "e.g. 60",
        );
      }
      const rate: RateConfig | null = parsed && {
        ...parsed,
        retryAfter: flags.retryAfter !== false,
        ...(lockout ? { lockoutMs: lockout * 1000 } : {}),
        ...(flags.reset ? { reset: flags.reset as "delta" | "epoch" | "none" } : {}),
      };
      const ids = ((flags.campaignId as string[] | undefined) ?? ["1"]).map((v) =>
        intOption("--campaign-id", v, 1, Number.MAX_SAFE_INTEGER)!
      );
      const credits = intOption("--credits", flags.credits as string | undefined, 0, 1e12);
      const port = intOption("--port", flags.port as string | undefined, 0, 65535) ?? 0;
      const behaviour: Partial<Behaviour> = { idMap: flags.idMap !== false };
      if (flags.addAnswer) behaviour.addAnswer = flags.addAnswer as Behaviour["addAnswer"];
      if (flags.updateAnswer) {
        behaviour.updateAnswer = flags.updateAnswer as Behaviour["updateAnswer"];
      }
      if (flags.staleId) behaviour.staleId = flags.staleId as Behaviour["staleId"];
      const cap = intOption(
        "--max-custom-fields",
        flags.maxCustomFields as string | undefined,
        0,
        1e6,
      );
      if (cap !== undefined) behaviour.maxCustomFields = cap;
      const sb = await startSandbox({
        port,
        apiKey: (flags.apiKey as string | undefined) ?? "sandbox-key",
        campaignIds: ids,
        rate,
        credits: credits ?? null,
        behaviour,
        ...(flags.blockUserAgent ? { blockUserAgent: flags.blockUserAgent as string } : {}),
        latencyMs: intOption("--latency-ms", flags.latencyMs as string | undefined, 0, 600_000) ??
          0,
        exportCustomFields: flags.exportCustomFields === "columns" ? "columns" : "json",
        staleLeadStatus: flags.staleLeadStatus === "500" ? 500 : 404,
      }).catch((e) => {
        throw listenError(e, port);
      });
      if (flags.json) {
        ctx.output.out(
          JSON.stringify({ url: sb.url, api_key: sb.apiKey, campaign_ids: ids }) + "\n",
        );
        ctx.report = null; // its one JSON object is the ready line; errors still print one
      }
      // The sandbox key is a demo key: it is shown on purpose.
      Deno.stderr.writeSync(new TextEncoder().encode(formatBanner(sb) + "\n"));
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        try {
          Deno.addSignalListener("SIGINT", stop);
          Deno.addSignalListener("SIGTERM", stop);
        } catch {
          // signals are not available everywhere (Windows: SIGINT only)
        }
      });
      await sb.close();
    });
