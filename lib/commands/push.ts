/** `smartlead-sync push [INPUT...]`: the main job. */
import { Command, Option } from "commander";
import { parseRate } from "../client/rate_limiter.ts";
import type { AddLeadsSettings } from "../client/smartlead.ts";
import { DEFAULT_BASE_URL, SmartleadClient } from "../client/smartlead.ts";
import { loadConfig } from "../config.ts";
import { env } from "../env.ts";
import { UsageError } from "../errors.ts";
import { mergeTags } from "../lead.ts";
import { parseMapFlags } from "../mapping.ts";
import { formatSummary } from "../pipeline/report.ts";
import { ProgressLine } from "../progress.ts";
import { push, PushFailed, type PushOptions, type SyncMode } from "../push.ts";
import { registerSecret } from "../redact.ts";
import { collect, type CommandContext, intOption } from "./context.ts";

const SETTINGS = [
  "ignore_global_block_list",
  "ignore_unsubscribe_list",
  "ignore_community_bounce_list",
  "ignore_duplicate_leads_in_other_campaign",
] as const;

/** Options shared by commands that talk to a campaign. */
export function campaignOptions(cmd: Command): Command {
  return cmd
    .option("--campaign-id <id>", "Smartlead campaign id (env SMARTLEAD_CAMPAIGN_ID)")
    .option("--api-key <key>", "API key (env SMARTLEAD_API_KEY; prefer the environment)")
    .option(
      "--base-url <url>",
      `API base URL (env SMARTLEAD_BASE_URL, default ${DEFAULT_BASE_URL})`,
    )
    .option("--config <path>", "config file (default ./smartlead-sync.json if present)")
    .option(
      "--state <path>",
      "index directory or .db file (default $XDG_STATE_HOME/smartlead-sync)",
    );
}

export const pushCommand = (ctx: CommandContext): Command =>
  campaignOptions(
    new Command("push")
      .summary("stream CSV/NDJSON leads into a Smartlead campaign")
      .description(
        "Reads CSV or NDJSON from files or stdin, maps and validates each row, checks it against " +
          "the local index and sends only new or changed leads, in batches, under the rate limit.",
      )
      .argument(
        "[input...]",
        'files (.csv .tsv .ndjson .jsonl, optionally .gz); "-" or none = stdin',
      ),
  )
    .addOption(
      new Option("--format <format>", "input format (default: from the extension, or sniffed)")
        .choices(["csv", "ndjson"]),
    )
    .option(
      "--map <field=column>",
      "map a column to a field (repeatable; wins over automatic mapping)",
      collect,
    )
    .option(
      "--tags <a,b>",
      "tags added to every lead, as the custom field `tags` (repeatable)",
      collect,
    )
    .option("--batch-size <n>", "leads per request, 1..400 (default 100)")
    .option(
      "--rate <n/seconds>",
      "request ceiling; the real budget is learnt below it (default 10/2)",
    )
    .option(
      "--rate-window <seconds>",
      "the period a learnt budget is counted over, and a bare 429's wait (default 60)",
    )
    .option("--concurrency <n>", "requests in flight at once, 1..32 (default 4)")
    .option("--rejects <path>", "write rows not sent to this NDJSON file")
    .addOption(
      new Option("--mode <mode>", "incremental (default) or full-refresh").choices([
        "incremental",
        "full-refresh",
      ]),
    )
    .option(
      "--delete-missing",
      "also delete from the campaign indexed leads absent from this input",
    )
    .option("--retry-rejected", "send again rows Smartlead refused before, even if unchanged")
    .option("--dry-run", "plan everything, write nothing to Smartlead")
    .option("--json", "print one JSON summary object on stdout")
    .option("--quiet", "no progress and no summary on stderr")
    .option("--verbose", "also print each batch's Smartlead counters")
    .option("--ignore-global-block-list", "Smartlead setting ignore_global_block_list")
    .option("--ignore-unsubscribe-list", "Smartlead setting ignore_unsubscribe_list")
    .option("--ignore-community-bounce-list", "Smartlead setting ignore_community_bounce_list")
    .option(
      "--ignore-duplicate-leads-in-other-campaign",
      "Smartlead setting of that name (reported to behave opposite to its docs; see README)",
    )
    .option(
      "--max-attempts <n>",
      "attempts per request on 5xx/network errors before exit 5 (default 6)",
    )
    .option(
      "--max-wait <seconds>",
      "how long to wait out 429s (rate limit, lockouts) before exit 5 (default 900)",
    )
    .option("--timeout <seconds>", "per-request timeout (default 120)")
    .addOption(new Option("--backoff-ms <ms>", "first retry delay").hideHelp())
    .addHelpText(
      "after",
      `
Examples:
  smartlead-sync push leads.csv --campaign-id 123
  smartlead-sync push a.csv b.ndjson.gz --tags webinar,2026 --rejects rejects.ndjson
  psql -c "copy (select * from leads) to stdout csv header" | smartlead-sync push - --campaign-id 123
  smartlead-sync push export.csv --mode full-refresh --delete-missing --dry-run

Cron (one run per index at a time; a second one exits 7):
  0 2 * * * . /etc/smartlead.env; smartlead-sync push /data/leads.csv --campaign-id 123 --quiet --json >> /var/log/leads.jsonl`,
    )
    .action(async (inputs: string[], flags: Record<string, unknown>) => {
      const code = await runPush(ctx, inputs, flags);
      ctx.exitCode = code;
    });

/** A client for check, state and verify (push builds its own with every option). */
export function clientFor(
  ctx: CommandContext,
  opts: PushOptions,
  extra: { maxAttempts?: number } = {},
): SmartleadClient {
  if (!opts.apiKey) throw new UsageError("no API key", "set SMARTLEAD_API_KEY or pass --api-key");
  return new SmartleadClient({
    apiKey: opts.apiKey,
    ...(opts.baseUrl ? { baseUrl: opts.baseUrl } : {}),
    ...(opts.rate ? { rate: opts.rate } : {}),
    ...extra,
    ...(ctx.debug ? { debug: (l: string) => ctx.output.err(l + "\n") } : {}),
  });
}

/** Resolves flags > environment > config > defaults into push options. */
export async function resolvePushOptions(
  ctx: CommandContext,
  inputs: readonly string[],
  flags: Record<string, unknown>,
): Promise<PushOptions & { json: boolean; quiet: boolean; configPath?: string }> {
  const str = (k: string) => (typeof flags[k] === "string" ? flags[k] as string : undefined);
  const { config, path: configPath } = await loadConfig(
    str("config") ?? env("SMARTLEAD_SYNC_CONFIG"),
  );
  const apiKey = str("apiKey") ?? env("SMARTLEAD_API_KEY") ?? config.api_key;
  registerSecret(apiKey);
  const campaignRaw = str("campaignId") ?? env("SMARTLEAD_CAMPAIGN_ID") ??
    (config.campaign_id !== undefined ? String(config.campaign_id) : undefined);
  if (campaignRaw === undefined) {
    throw new UsageError("no campaign id", "pass --campaign-id <id> or set SMARTLEAD_CAMPAIGN_ID");
  }
  const campaignId = intOption("--campaign-id", campaignRaw, 1, Number.MAX_SAFE_INTEGER)!;
  const baseUrl = str("baseUrl") ?? env("SMARTLEAD_BASE_URL") ?? config.base_url ??
    DEFAULT_BASE_URL;
  try {
    const u = new URL(baseUrl);
    if (u.protocol !== "https:" && u.protocol !== "http:") throw new Error("not http");
  } catch {
    throw new UsageError(
      `--base-url ${JSON.stringify(baseUrl)}: not an http(s) URL`,
      "e.g. https://server.smartlead.ai/api/v1",
    );
  }
  const rateText = str("rate") ?? config.rate;
  const rate = rateText === undefined ? undefined : parseRate(rateText);
  if (rateText !== undefined && rate === undefined) {
    throw new UsageError(
      `--rate ${JSON.stringify(rateText)}: expected n/seconds, e.g. 10/2`,
      "see --help",
    );
  }
  const configMap = Object.entries(config.map ?? {}).map(([field, column]) => `${field}=${column}`);
  const map = parseMapFlags([...configMap, ...((flags.map as string[] | undefined) ?? [])]);
  const tags = mergeTags(
    ...(Array.isArray(config.tags) ? config.tags : config.tags ? [config.tags] : []).map((t) => t),
    ...((flags.tags as string[] | undefined) ?? []),
  );
  const settings: AddLeadsSettings = {};
  for (const s of SETTINGS) {
    const fromConfig = config.settings?.[s];
    if (fromConfig !== undefined) settings[s] = fromConfig;
    const flag = s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    if (flags[flag] === true) settings[s] = true;
  }
  const mode = (str("mode") ?? config.mode ?? "incremental") as SyncMode;
  const timeout = intOption("--timeout", str("timeout"), 1, 3600);
  const opts: PushOptions & { json: boolean; quiet: boolean; configPath?: string } = {
    inputs,
    campaignId,
    apiKey,
    baseUrl,
    format: str("format") as PushOptions["format"],
    map,
    tags,
    batchSize: intOption("--batch-size", str("batchSize") ?? config.batch_size, 1, 400) ?? 100,
    concurrency: intOption("--concurrency", str("concurrency") ?? config.concurrency, 1, 32) ?? 4,
    rejectsPath: str("rejects") ?? config.rejects,
    dryRun: flags.dryRun === true,
    mode,
    deleteMissing: flags.deleteMissing === true,
    retryRejected: flags.retryRejected === true,
    state: str("state") ?? config.state,
    settings,
    stdin: ctx.stdin,
    verbose: flags.verbose === true,
    json: flags.json === true,
    quiet: flags.quiet === true,
  };
  if (rate) opts.rate = rate;
  const attempts = intOption("--max-attempts", str("maxAttempts"), 1, 100);
  if (attempts !== undefined) opts.maxAttempts = attempts;
  if (timeout !== undefined) opts.timeoutMs = timeout * 1000;
  const maxWait = intOption("--max-wait", str("maxWait"), 1, 86_400);
  if (maxWait !== undefined) opts.maxWaitMs = maxWait * 1000;
  const rateWindow = str("rateWindow");
  if (rateWindow !== undefined) {
    const seconds = Number(rateWindow.trim());
    if (!(seconds > 0 && seconds <= 3600)) {
      throw new UsageError(
        `--rate-window ${
          JSON.stringify(rateWindow)
        }: expected seconds, more than 0 and at most 3600`,
        "e.g. 60",
      );
    }
    opts.rateWindowMs = seconds * 1000;
  }
  const backoff = intOption("--backoff-ms", str("backoffMs"), 0, 600_000);
  if (backoff !== undefined) opts.backoffBaseMs = backoff;
  if (configPath !== undefined) opts.configPath = configPath;
  return opts;
}

async function runPush(
  ctx: CommandContext,
  inputs: string[],
  flags: Record<string, unknown>,
): Promise<number> {
  const opts = await resolvePushOptions(ctx, inputs, flags);
  const { output } = ctx;
  if ((inputs.length === 0 || inputs.includes("-")) && ctx.stdinIsTty) {
    // Reading a terminal would wait for typed CSV: almost certainly a forgotten file name.
    throw new UsageError(
      "no input: stdin is a terminal",
      "name a file (smartlead-sync push leads.csv) or pipe data in (... | smartlead-sync push -)",
    );
  }
  const human = !opts.quiet && !opts.json;
  const progress = human && output.errIsTty ? new ProgressLine(output) : undefined;
  opts.log = (line) => {
    progress?.clear();
    if (!opts.quiet) output.err(line + "\n");
  };
  if (ctx.debug) opts.debug = (line) => opts.log!(line);
  if (progress) opts.onProgress = (p) => progress.update(p);
  // The first SIGINT/SIGTERM stops the run cleanly: no new batch starts, those in flight
  // finish and are recorded. The listener is then removed, so a second signal kills at once.
  const stop = new AbortController();
  opts.signal = stop.signal;
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const handlers = new Map<Deno.Signal, () => void>();
  const unlisten = () => {
    for (const [sig, h] of handlers) {
      try {
        Deno.removeSignalListener(sig, h);
      } catch {
        // already removed
      }
    }
    handlers.clear();
  };
  for (const sig of signals) {
    const h = () => {
      unlisten();
      opts.log!(`${sig}: finishing the batches in flight, then stopping (again to stop at once)`);
      stop.abort(sig);
    };
    try {
      Deno.addSignalListener(sig, h);
      handlers.set(sig, h);
    } catch {
      // SIGTERM cannot be listened to on Windows
    }
  }
  try {
    const summary = await push(opts);
    progress?.clear();
    if (opts.json) output.out(JSON.stringify(summary) + "\n");
    else if (!opts.quiet) {
      output.err(formatSummary(summary, opts.verbose).join("\n") + "\n");
    }
    return 0;
  } catch (e) {
    progress?.clear();
    if (e instanceof PushFailed) {
      // A usage error (unusable input) has nothing to summarise; exit 5/6 do.
      if (e.exitCode === 2) throw e.error;
      if (opts.json) output.out(JSON.stringify(e.summary) + "\n");
      else if (!opts.quiet) output.err(formatSummary(e.summary, opts.verbose).join("\n") + "\n");
      throw e.error;
    }
    throw e;
  } finally {
    unlisten();
    progress?.stop();
  }
}
