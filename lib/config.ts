/**
 * The config file: JSON with comments (`smartlead-sync.jsonc` in the working directory, else
 * the older name `smartlead-sync.json`, or `--config <path>`, or `SMARTLEAD_SYNC_CONFIG`),
 * validated with zod: an unknown or mistyped key is an error naming it. Precedence: flags >
 * environment > config file > defaults.
 */
import { z } from "zod";
import { UsageError } from "./errors.ts";
import { describeFsError } from "./input/source.ts";

/** The file `init` writes and commands read by default: JSON with comments, hence `.jsonc`. */
export const DEFAULT_CONFIG_FILE = "smartlead-sync.jsonc";
/** The name earlier versions used; still read when there is no `.jsonc`. */
export const LEGACY_CONFIG_FILE = "smartlead-sync.json";
/** What `init` writes as `campaign_id` when it was not told one; explained when read. */
export const CAMPAIGN_PLACEHOLDER = "<campaign id: run smartlead-sync campaigns>";

const SettingsSchema = z.strictObject({
  ignore_global_block_list: z.boolean().optional(),
  ignore_unsubscribe_list: z.boolean().optional(),
  ignore_community_bounce_list: z.boolean().optional(),
  ignore_duplicate_leads_in_other_campaign: z.boolean().optional(),
});

/** `--max-deletes` / `--max-rejects` written as a count or a percentage. */
const LIMIT = /^\s*\d+(\.\d+)?\s*%\s*$|^\s*\d+\s*$/;
const LIMIT_MESSAGE = 'expected a whole number or a percentage, e.g. 50 or "5%"';

/** The config file's shape. */
export const ConfigSchema = z.strictObject({
  $schema: z.string().optional(),
  campaign_id: z.union([
    z.number().int().positive(),
    z.string().regex(/^\d+$/),
    z.literal(CAMPAIGN_PLACEHOLDER),
  ]).optional(),
  api_key: z.string().min(1).optional(),
  base_url: z.url().optional(),
  tags: z.union([z.array(z.string()), z.string()]).optional(),
  map: z.record(z.string(), z.string()).optional(),
  batch_size: z.number().int().min(1).max(400).optional(),
  concurrency: z.number().int().min(1).max(32).optional(),
  rate: z.string().regex(
    /^\s*\d+\s*\/\s*\d+(\.\d+)?\s*(s|ms)?\s*$/,
    "expected n/seconds, e.g. 10/2",
  )
    .optional(),
  mode: z.enum(["incremental", "full-refresh"]).optional(),
  update_via: z.enum(["lead", "add"]).optional(),
  /** What happens to indexed leads absent from the input (`--missing`). */
  missing: z.enum(["ignore", "pause", "unsubscribe", "delete"]).optional(),
  state: z.string().optional(),
  rejects: z.string().optional(),
  rejects_append: z.boolean().optional(),
  max_deletes: z.union([z.number().int().min(0), z.string().regex(LIMIT, LIMIT_MESSAGE)])
    .optional(),
  max_rejects: z.union([z.number().int().min(0), z.string().regex(LIMIT, LIMIT_MESSAGE)])
    .optional(),
  max_custom_fields: z.number().int().min(1).max(100_000).optional(),
  settings: SettingsSchema.optional(),
  /** Allow an http:// base URL for a host other than loopback (the key goes in clear). */
  allow_insecure_http: z.boolean().optional(),
});
export type Config = z.infer<typeof ConfigSchema>;

/**
 * Strips `//` line comments and `/* ... *\/` block comments outside strings (JSONC), keeping
 * line breaks so that JSON.parse's positions still point at the right line.
 */
export function stripJsonComments(text: string): string {
  let out = "";
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      out += c;
      if (c === "\\") out += text[++i] ?? "";
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
      out += "\n";
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      const comment = text.slice(i, end < 0 ? text.length : end + 2);
      out += comment.replace(/[^\n]/g, " ");
      i += comment.length - 1;
    } else out += c;
  }
  return out;
}

/**
 * Loads the config: an explicit path must exist; the default file is optional.
 * Returns `{}` when there is none. `origin` names where the path came from (`--config`,
 * `SMARTLEAD_SYNC_CONFIG`) in the message when it cannot be read.
 */
export async function loadConfig(
  path: string | undefined,
  origin = "--config",
): Promise<{ config: Config; path?: string }> {
  if (path === undefined) {
    // The default file is optional: `.jsonc`, else the older `.json`.
    for (const name of [DEFAULT_CONFIG_FILE, LEGACY_CONFIG_FILE]) {
      try {
        await Deno.stat(name);
      } catch {
        continue;
      }
      return await loadConfig(name);
    }
    return { config: {} };
  }
  const file = path;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    throw new UsageError(
      `cannot read the config file ${file}: ${describeFsError(e)}`,
      `check ${origin}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(stripJsonComments(text));
  } catch (e) {
    throw new UsageError(
      `${file}: not valid JSON (${e instanceof Error ? e.message : String(e)})`,
      "fix the file or regenerate it with smartlead-sync init",
    );
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new UsageError(
      `${file}: expected a JSON object of settings`,
      "fix the file or regenerate it with smartlead-sync init",
    );
  }
  const parsed = ConfigSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    if (issue.code === "unrecognized_keys") {
      const where = issue.path.length ? `${issue.path.join(".")}.` : "";
      throw new UsageError(
        `${file}: unknown key ${issue.keys.map((k) => JSON.stringify(where + k)).join(", ")}`,
        `allowed keys${where ? ` in ${issue.path.join(".")}` : ""}: ${
          Object.keys(where ? SettingsSchema.shape : ConfigSchema.shape)
            .filter((k) => k !== "$schema").join(", ")
        }`,
      );
    }
    throw new UsageError(
      `${file}: key ${JSON.stringify(issue.path.join("."))}: ${issue.message}`,
      "fix the value; see README, Configuration",
    );
  }
  return { config: parsed.data, path: file };
}
