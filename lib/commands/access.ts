/**
 * What every command that talks to Smartlead resolves first: the config file, the API key
 * (`api_key.ts`), the base URL and the campaign, each value naming where it came from
 * (flag, variable, config key) when it is wrong; and the options that set them.
 */
import type { Command } from "commander";
import { DEFAULT_BASE_URL, SmartleadClient } from "../client/smartlead.ts";
import { CAMPAIGN_PLACEHOLDER, type Config, loadConfig } from "../config.ts";
import { env, type EnvVar } from "../env.ts";
import { UsageError } from "../errors.ts";
import type { PushOptions } from "../push.ts";
import { withoutCredentials } from "../redact.ts";
import { resolveApiKey, warnKeyOnCommandLine } from "./api_key.ts";
import { type CommandContext, intOption } from "./context.ts";

/** Options shared by commands that talk to a campaign. */
export function campaignOptions(cmd: Command): Command {
  return accessOptions(
    cmd.option("--campaign-id <id>", "Smartlead campaign id (env SMARTLEAD_CAMPAIGN_ID)"),
  )
    .option(
      "--state <path>",
      "index directory or .db file (default $XDG_STATE_HOME/smartlead-sync)",
    );
}

/** Options shared by commands that talk to Smartlead: the key, the URL, the config file. */
export function accessOptions(cmd: Command): Command {
  return cmd
    .option(
      "--api-key <key>",
      "API key (env SMARTLEAD_API_KEY; visible in ps: prefer the environment or --api-key-file)",
    )
    .option(
      "--api-key-file <path>",
      "read the API key from this file, e.g. a Docker or Kubernetes secret (env SMARTLEAD_API_KEY_FILE)",
    )
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
    );
}

/** A client for check, state and verify (push builds its own with every option). */
export function clientFor(
  ctx: CommandContext,
  opts: Pick<PushOptions, "apiKey" | "baseUrl" | "rate" | "allowInsecureHttp">,
  extra: { maxAttempts?: number } = {},
): SmartleadClient {
  if (!opts.apiKey) {
    throw new UsageError(
      "no API key",
      "set SMARTLEAD_API_KEY or SMARTLEAD_API_KEY_FILE, or pass --api-key-file",
    );
  }
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
export interface Source {
  value: string;
  /** How messages name it: `--campaign-id`, `SMARTLEAD_CAMPAIGN_ID`, `smartlead-sync.json: rate`. */
  name: string;
  /** How to fix it there. */
  hint: string;
}

export function fromEnv(name: EnvVar): Source | undefined {
  const value = env(name);
  return value === undefined ? undefined : { value, name, hint: `fix or unset ${name}` };
}

/** The key, the base URL and the config file: what every command that talks to Smartlead needs. */
export interface Access {
  config: Config;
  configPath: string | undefined;
  apiKey: string | undefined;
  baseUrl: string;
  allowInsecureHttp: boolean;
  /** Undefined when none was asked for, or it is optional and none was given. */
  campaignId: number | undefined;
}

/** Each value names where it came from when it is wrong: the flag, the variable, the file. */
export function sourcesOf(flags: Record<string, unknown>, config: Config, configPath?: string) {
  const str = (k: string) => (typeof flags[k] === "string" ? flags[k] as string : undefined);
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
  return { str, fromFlag, fromConfig };
}

/**
 * Resolves, in this order, the config file, the API key (`api_key.ts`: flags > environment >
 * config, key files read; unless `key` is false, for commands that never send a request), the
 * campaign id (`campaign`: whether one is needed) and the base URL. Warns once when the key is
 * on the command line.
 */
export async function resolveAccess(
  ctx: CommandContext,
  flags: Record<string, unknown>,
  opts: { campaign?: "required" | "optional" | "none"; key?: boolean } = {},
): Promise<Access> {
  const campaign = opts.campaign ?? "none";
  const str = (k: string) => (typeof flags[k] === "string" ? flags[k] as string : undefined);
  const configFrom: Source | undefined = str("config") !== undefined
    ? { value: str("config")!, name: "--config", hint: "check --config" }
    : fromEnv("SMARTLEAD_SYNC_CONFIG");
  const { config, path: configPath } = await loadConfig(configFrom?.value, configFrom?.name);
  const { fromFlag, fromConfig } = sourcesOf(flags, config, configPath);
  const key = opts.key === false ? undefined : await resolveApiKey(
    { apiKey: str("apiKey"), apiKeyFile: str("apiKeyFile") },
    { key: config.api_key, path: configPath },
  );
  if (flags.quiet !== true) warnKeyOnCommandLine(ctx, ctx.output, key);
  const campaignId = campaign === "none"
    ? undefined
    : campaignIdOf(flags, config, configPath, campaign === "optional");
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
  return { config, configPath, apiKey: key?.key, campaignId, baseUrl, allowInsecureHttp };
}

/**
 * The campaign id from `--campaign-id`, `SMARTLEAD_CAMPAIGN_ID` or the config file. Without
 * one (or with the placeholder `init` writes): a usage error, or undefined when `optional`.
 */
function campaignIdOf(
  flags: Record<string, unknown>,
  config: Config,
  configPath: string | undefined,
  optional: boolean,
): number | undefined {
  const { fromFlag, fromConfig } = sourcesOf(flags, config, configPath);
  const campaign = fromFlag("--campaign-id", "campaignId") ?? fromEnv("SMARTLEAD_CAMPAIGN_ID") ??
    fromConfig("campaign_id");
  if (campaign?.value === CAMPAIGN_PLACEHOLDER) {
    if (optional) return undefined;
    throw new UsageError(
      `${configPath}: campaign_id is still the placeholder that init wrote`,
      "set it to the campaign's id (smartlead-sync campaigns lists them) or pass --campaign-id",
    );
  }
  if (campaign === undefined) {
    if (optional) return undefined;
    throw new UsageError(
      "no campaign id",
      "pass --campaign-id <id> or set SMARTLEAD_CAMPAIGN_ID (smartlead-sync campaigns lists them)",
    );
  }
  return intOption(campaign.name, campaign.value, 1, Number.MAX_SAFE_INTEGER, campaign.hint)!;
}

/** A yes/no environment variable: 1/true/yes or 0/false/no (empty = unset). */
function envFlag(name: "SMARTLEAD_ALLOW_INSECURE_HTTP"): boolean {
  const v = env(name)?.trim().toLowerCase();
  if (v === undefined || ["0", "false", "no"].includes(v)) return false;
  if (["1", "true", "yes"].includes(v)) return true;
  throw new UsageError(`${name}=${JSON.stringify(v)}: expected 1 or 0`, "or unset it");
}
