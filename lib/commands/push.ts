/** `smartlead-sync push [INPUT...]`: the main job. */
import { Command, Option } from "commander";
import { parseRate } from "../client/rate_limiter.ts";
import type { AddLeadsSettings } from "../client/smartlead.ts";
import type { Config } from "../config.ts";
import { UsageError } from "../errors.ts";
import { mergeTags } from "../lead.ts";
import { parseMapFlags } from "../mapping.ts";
import type { UpdateVia } from "../pipeline/estimate.ts";
import { parseLimit } from "../pipeline/guard_rails.ts";
import { formatSummary } from "../pipeline/report.ts";
import { ProgressLine } from "../progress.ts";
import { push, PushFailed, type PushOptions, type SyncMode } from "../push.ts";
import { campaignOptions, resolveAccess, type Source, sourcesOf } from "./access.ts";
import { collect, type CommandContext, intOption } from "./context.ts";
import { inputOptions, resolveInputOptions } from "./input_options.ts";

/** `--missing` actions (config `missing`). */
const MISSING_ACTIONS = ["ignore", "pause", "unsubscribe", "delete"] as const;

/**
 * `--missing`, `--delete-missing` (its older name for `delete`) and the config's `missing`:
 * the flags win over the file; both flags at once must agree.
 */
function missingAction(
  flags: Record<string, unknown>,
  config: Config,
): (typeof MISSING_ACTIONS)[number] {
  const flag = typeof flags.missing === "string" ? flags.missing : undefined;
  if (flags.deleteMissing === true) {
    if (flag !== undefined && flag !== "delete") {
      throw new UsageError(
        `--delete-missing and --missing ${flag} disagree: --delete-missing means --missing delete`,
        "keep one of them",
      );
    }
    return "delete";
  }
  return (flag ?? config.missing ?? "ignore") as (typeof MISSING_ACTIONS)[number];
}

export { campaignOptions, clientFor } from "./access.ts";

const SETTINGS = [
  "ignore_global_block_list",
  "ignore_unsubscribe_list",
  "ignore_community_bounce_list",
  "ignore_duplicate_leads_in_other_campaign",
] as const;

export const pushCommand = (ctx: CommandContext): Command =>
  campaignOptions(
    inputOptions(new Command("push"))
      .summary("stream CSV/NDJSON leads into a Smartlead campaign")
      .description(
        "Reads CSV or NDJSON from files or stdin, maps and validates each row, checks it against " +
          "the local index and sends only new or changed leads, in batches, under the rate limit.",
      )
      .argument(
        "[input...]",
        'files (.csv .tsv .ndjson .jsonl .json, optionally .gz) or named pipes; "-" or none = stdin',
      ),
  )
    .addOption(
      new Option("--format <format>", "input format (default: from the extension, or sniffed)")
        .choices(["csv", "ndjson", "json"]),
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
    .option(
      "--max-custom-fields <n>",
      "custom fields per lead; rows with more are rejected before sending (default 200)",
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
    .option("--rejects <path>", 'write rows not sent to this NDJSON file ("-": stdout)')
    .option("--rejects-append", "append to the rejects file instead of emptying it first")
    .addOption(
      new Option("--mode <mode>", "incremental (default) or full-refresh").choices([
        "incremental",
        "full-refresh",
      ]),
    )
    .addOption(
      new Option(
        "--missing <action>",
        "what happens to indexed leads absent from this input (default ignore; pause keeps " +
          "their history and resumes them when they come back)",
      ).choices(MISSING_ACTIONS),
    )
    .option("--delete-missing", "the same as --missing delete")
    .option(
      "--max-deletes <N|P%>",
      "stop before any write when the plan deletes, pauses or unsubscribes more " +
        "(default: 10% of the indexed leads, at most 1000)",
    )
    .option(
      "--delete-foreign",
      "with --missing, also act on leads smartlead-sync did not add to the campaign",
    )
    .option(
      "--max-rejects <N|P%>",
      "fail (exit 2, nothing written) when more rows are rejected (default: when every row is)",
    )
    .option("--retry-rejected", "send again rows Smartlead refused before, even if unchanged")
    .addOption(
      new Option(
        "--update-via <how>",
        "changed leads: lead (default), one update request per lead; add, re-added in batches",
      ).choices(["lead", "add"]),
    )
    .option("--dry-run", "plan everything, write nothing to Smartlead")
    .option("--json", "print one JSON object on stdout (the summary), whatever the exit")
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
  smartlead-sync push export.csv --missing pause --dry-run
  smartlead-sync push export.csv --mode full-refresh --delete-missing --max-deletes 250

Cron (one run per index at a time; a second one exits 7):
  0 2 * * * . /etc/smartlead.env; smartlead-sync push /data/leads.csv --campaign-id 123 --quiet --json >> /var/log/leads.jsonl`,
    )
    .action(async (inputs: string[], flags: Record<string, unknown>) => {
      const code = await runPush(ctx, inputs, flags);
      ctx.exitCode = code;
    });

/** Resolves flags > environment > config > defaults into push options. */
export async function resolvePushOptions(
  ctx: CommandContext,
  inputs: readonly string[],
  flags: Record<string, unknown>,
): Promise<PushOptions & { json: boolean; quiet: boolean; configPath?: string }> {
  const access = await resolveAccess(ctx, flags, { campaign: "required" });
  const { config, configPath, apiKey, baseUrl, allowInsecureHttp } = access;
  const { str, fromFlag, fromConfig } = sourcesOf(flags, config, configPath);
  const campaignId = access.campaignId!;
  const rateFrom = fromFlag("--rate", "rate") ?? fromConfig("rate");
  const rate = rateFrom === undefined ? undefined : parseRate(rateFrom.value);
  if (rateFrom !== undefined && rate === undefined) {
    throw new UsageError(
      `${rateFrom.name} ${JSON.stringify(rateFrom.value)}: expected n/seconds, e.g. 10/2`,
      rateFrom.hint,
    );
  }
  const int = (src: Source | undefined, min: number, max: number) =>
    src && intOption(src.name, src.value, min, max, src.hint);
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
    batchSize: int(fromFlag("--batch-size", "batchSize") ?? fromConfig("batch_size"), 1, 400) ??
      100,
    concurrency:
      int(fromFlag("--concurrency", "concurrency") ?? fromConfig("concurrency"), 1, 32) ??
        4,
    rejectsPath: str("rejects") ?? config.rejects,
    rejectsAppend: flags.rejectsAppend === true || config.rejects_append === true,
    dryRun: flags.dryRun === true,
    mode,
    missing: missingAction(flags, config),
    deleteForeign: flags.deleteForeign === true,
    retryRejected: flags.retryRejected === true,
    updateVia: (str("updateVia") ?? config.update_via ?? "lead") as UpdateVia,
    state: str("state") ?? config.state,
    settings,
    stdin: ctx.stdin,
    verbose: flags.verbose === true,
    json: flags.json === true,
    quiet: flags.quiet === true,
  };
  if (rate) opts.rate = rate;
  for (
    const [flag, key, field] of [
      ["--max-deletes", "maxDeletes", "max_deletes"],
      ["--max-rejects", "maxRejects", "max_rejects"],
    ] as const
  ) {
    const value = str(key) ?? config[field];
    const name = str(key) !== undefined ? flag : `${configPath}: ${field}`;
    if (value !== undefined) opts[key] = parseLimit(name, value);
  }
  if (allowInsecureHttp) opts.allowInsecureHttp = true;
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
  const origins: NonNullable<PushOptions["origins"]> = {};
  for (const [key, flag] of [["rejects", "--rejects"], ["state", "--state"]] as const) {
    if (str(key) === undefined && config[key] !== undefined) {
      origins[key] = `${key} in ${configPath}`;
    } else origins[key] = flag;
  }
  opts.origins = origins;
  opts.input = resolveInputOptions(flags);
  const maxCustom = intOption(
    "--max-custom-fields",
    str("maxCustomFields") ?? config.max_custom_fields,
    1,
    100_000,
  );
  if (maxCustom !== undefined) opts.maxCustomFields = maxCustom;
  if (opts.rejectsPath === "-" && opts.json) {
    throw new UsageError(
      `${origins.rejects} is "-" (stdout), which carries the --json summary`,
      "name a file for the rejects, or drop --json",
    );
  }
  if (flags.rejectsAppend === true && opts.rejectsPath === undefined) {
    throw new UsageError(
      "--rejects-append: no rejects file to append to",
      "name one with --rejects <path>",
    );
  }
  return opts;
}

async function runPush(
  ctx: CommandContext,
  inputs: string[],
  flags: Record<string, unknown>,
): Promise<number> {
  const named = inputs.length === 0 ? ["-"] : [...inputs];
  ctx.report = { inputs: named };
  const opts = await resolvePushOptions(ctx, inputs, flags);
  ctx.report = {
    campaign_id: opts.campaignId,
    mode: opts.mode ?? "incremental",
    dry_run: opts.dryRun ?? false,
    inputs: named,
  };
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
    ctx.report = { ...summary, inputs: named };
    if (!opts.quiet && !opts.json) {
      output.err(formatSummary(summary, opts.verbose).join("\n") + "\n");
    }
    return 0;
  } catch (e) {
    progress?.clear();
    if (e instanceof PushFailed) {
      // cli.ts prints the summary with --json; people get it for exits other than 2 (unusable
      // input has nothing worth summarising on a terminal).
      ctx.report = { ...e.summary, inputs: named };
      if (e.exitCode !== 2 && !opts.quiet && !opts.json) {
        output.err(formatSummary(e.summary, opts.verbose).join("\n") + "\n");
      }
      throw e.error;
    }
    throw e;
  } finally {
    unlisten();
    progress?.stop();
  }
}
