/** `smartlead-sync sandbox`: a local Smartlead-compatible API for demos and tests. */
import { Command, Option } from "commander";
import { parseRate } from "../client/rate_limiter.ts";
import { UsageError } from "../errors.ts";
import { formatBanner, type RateConfig, startSandbox } from "../sandbox/server.ts";
import { collect, type CommandContext, intOption } from "./context.ts";

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
      const sb = await startSandbox({
        port: intOption("--port", flags.port as string | undefined, 0, 65535) ?? 0,
        apiKey: (flags.apiKey as string | undefined) ?? "sandbox-key",
        campaignIds: ids,
        rate,
        credits: credits ?? null,
        ...(flags.blockUserAgent ? { blockUserAgent: flags.blockUserAgent as string } : {}),
        latencyMs: intOption("--latency-ms", flags.latencyMs as string | undefined, 0, 600_000) ??
          0,
      });
      if (flags.json) {
        ctx.output.out(
          JSON.stringify({ url: sb.url, api_key: sb.apiKey, campaign_ids: ids }) + "\n",
        );
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
