/**
 * The config file (`smartlead-sync.json` in the working directory, or `--config <path>`,
 * or `SMARTLEAD_SYNC_CONFIG`), validated with zod: an unknown or mistyped key is an error
 * naming it. Precedence: flags > environment > config file > defaults.
 */
import { z } from "zod";
import { UsageError } from "./errors.ts";
import { describeFsError } from "./input/source.ts";

export const DEFAULT_CONFIG_FILE = "smartlead-sync.json";

const SettingsSchema = z.strictObject({
  ignore_global_block_list: z.boolean().optional(),
  ignore_unsubscribe_list: z.boolean().optional(),
  ignore_community_bounce_list: z.boolean().optional(),
  ignore_duplicate_leads_in_other_campaign: z.boolean().optional(),
});

/** The config file's shape. */
export const ConfigSchema = z.strictObject({
  $schema: z.string().optional(),
  campaign_id: z.union([z.number().int().positive(), z.string().regex(/^\d+$/)]).optional(),
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
  state: z.string().optional(),
  rejects: z.string().optional(),
  max_custom_fields: z.number().int().min(1).max(100_000).optional(),
  settings: SettingsSchema.optional(),
});
export type Config = z.infer<typeof ConfigSchema>;

/** Strips `//` line comments (outside strings), so `init`'s commented file parses. */
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
    } else out += c;
  }
  return out;
}

/**
 * Loads the config: an explicit path must exist; the default file is optional.
 * Returns `{}` when there is none.
 */
export async function loadConfig(
  path: string | undefined,
): Promise<{ config: Config; path?: string }> {
  const file = path ?? DEFAULT_CONFIG_FILE;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    if (
      path === undefined &&
      (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotCapable)
    ) {
      return { config: {} };
    }
    throw new UsageError(
      `cannot read the config file ${file}: ${describeFsError(e)}`,
      "check --config",
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
