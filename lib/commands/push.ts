/** `smartlead-sync push [INPUT...]`: the main job. */
import { Command, Option } from "commander";
import { parseRate } from "../client/rate_limiter.ts";
import type { AddLeadsSettings } from "../client/smartlead.ts";
import { DEFAULT_BASE_URL, SmartleadClient } from "../client/smartlead.ts";
import { CAMPAIGN_PLACEHOLDER, type Config, loadConfig } from "../config.ts";
import { env, type EnvVar } from "../env.ts";
import { UsageError } from "../errors.ts";
import { mergeTags } from "../lead.ts";
import { parseMapFlags } from "../mapping.ts";
import type { UpdateVia } from "../pipeline/estimate.ts";
import { parseLimit } from "../pipeline/guard_rails.ts";
import { formatSummary } from "../pipeline/report.ts";
import { ProgressLine } from "../progress.ts";
import { push, PushFailed, type PushOptions, type SyncMode } from "../push.ts";
import { registerSecret, withoutCredentials } from "../redact.ts";
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
    .option(
      "--allow-insecure-http",
      "allow an http:// base URL for a host other than loopback: the key goes in clear " +
        "(env SMARTLEAD_ALLOW_INSECURE_HTTP=1)",
    )
    .option(
      "--config <path>",
      "config file (default ./smartlead-sync.jsonc, else ./smartlead-sync.json, if present)",
    )
    .option(
      "--state <path>",
      "index directory or .db file (default $XDG_STATE_HOME/smartlead-sync)",
    );
}

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
    .option("--rate <n/seconds>", "client-side request budget (default 10/2)")
    .option("--concurrency <n>", "requests in flight at once, 1..32 (default 4)")
    .option("--rejects <path>", "write rows not sent to this NDJSON file")
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
    .option("--max-attempts <n>", "attempts per request before giving up with exit 5 (default 6)")
    .option("--timeout <seconds>", "per-request timeout (default 60)")
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
    ...(opts.allowInsecureHttp ? { allowInsecureHttp: true } : {}),
    ...extra,
    ...(ctx.debug ? { debug: (l: string) => ctx.output.err(l + "\n") } : {}),
  });
}

/** A setting's value and where it came from: a flag, a variable or a config file key. */
interface Source {
  value: string;
  /** How messages name it: `--campaign-id`, `SMARTLEAD_CAMPAIGN_ID`, `smartlead-sync.json: rate`. */
  name: string;
  /** How to fix it there. */
  hint: string;
}

function fromEnv(name: EnvVar): Source | undefined {
  const value = env(name);
  return value === undefined ? undefined : { value, name, hint: `fix or unset ${name}` };
}

/** Resolves flags > environment > config > defaults into push options. */
export async function resolvePushOptions(
  ctx: CommandContext,
  inputs: readonly string[],
  flags: Record<string, unknown>,
): Promise<PushOptions & { json: boolean; quiet: boolean; configPath?: string }> {
  const str = (k: string) => (typeof flags[k] === "string" ? flags[k] as string : undefined);
  const configFrom: Source | undefined = str("config") !== undefined
    ? { value: str("config")!, name: "--config", hint: "check --config" }
    : fromEnv("SMARTLEAD_SYNC_CONFIG");
  const { config, path: configPath } = await loadConfig(configFrom?.value, configFrom?.name);
  // Each value names where it came from when it is wrong: the flag, the variable, the file.
  const fromFlag = (flag: string, key: string): Source | undefined => {
    const value = str(key);
    return value === undefined ? undefined : { value, name: flag, hint: "see --help" };
  };
  const fromConfig = (key: keyof Config): Source | undefined => {
    const value = config[key];
    return value === undefined ? undefined : {
      value: String(value),
      name: `${configPath}: ${key}`,
      hint: `fix ${key} in ${configPath}`,
    };
  };
  const apiKey = str("apiKey") ?? env("SMARTLEAD_API_KEY") ?? config.api_key;
  registerSecret(apiKey);
  const campaign = fromFlag("--campaign-id", "campaignId") ?? fromEnv("SMARTLEAD_CAMPAIGN_ID") ??
    fromConfig("campaign_id");
  if (campaign?.value === CAMPAIGN_PLACEHOLDER) {
    throw new UsageError(
      `${configPath}: campaign_id is still the placeholder that init wrote`,
      "set it to the campaign's id (smartlead-sync campaigns lists them) or pass --campaign-id",
    );
  }
  if (campaign === undefined) {
    throw new UsageError("no campaign id", "pass --campaign-id <id> or set SMARTLEAD_CAMPAIGN_ID");
  }
  const campaignId = intOption(
    campaign.name,
    campaign.value,
    1,
    Number.MAX_SAFE_INTEGER,
    campaign.hint,
  )!;
  const base = fromFlag("--base-url", "baseUrl") ?? fromEnv("SMARTLEAD_BASE_URL") ??
    fromConfig("base_url");
  const baseUrl = base?.value ?? DEFAULT_BASE_URL;
  try {
    const u = new URL(baseUrl);
    if (u.protocol !== "https:" && u.protocol !== "http:") throw new Error("not http");
  } catch {
    throw new UsageError(
      `${base?.name ?? "--base-url"} ${
        JSON.stringify(withoutCredentials(baseUrl))
      }: not an http(s) URL`,
      `${base && base.name !== "--base-url" ? `${base.hint}, ` : ""}e.g. ${DEFAULT_BASE_URL}`,
    );
  }
  const allowInsecureHttp = flags.allowInsecureHttp === true ||
    envFlag("SMARTLEAD_ALLOW_INSECURE_HTTP") || config.allow_insecure_http === true;
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
  return opts;
}

/** A yes/no environment variable: 1/true/yes or 0/false/no (empty = unset). */
function envFlag(name: "SMARTLEAD_ALLOW_INSECURE_HTTP"): boolean {
  const v = env(name)?.trim().toLowerCase();
  if (v === undefined || ["0", "false", "no"].includes(v)) return false;
  if (["1", "true", "yes"].includes(v)) return true;
  throw new UsageError(`${name}=${JSON.stringify(v)}: expected 1 or 0`, "or unset it");
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
