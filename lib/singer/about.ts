/**
 * The Singer target's settings and `--about` (capabilities and the settings schema, as JSON
 * or Markdown, in the shape the Meltano SDK prints), and reading its `--config` files.
 */
import { z } from "zod";
import { UsageError } from "../errors.ts";
import {
  describeIssue,
  readJson,
  settingsProperties,
  type SharedConfig,
  SharedConfigSchema,
} from "../protocol/settings.ts";
import { VERSION } from "../version.ts";

export const TARGET_NAME = "target-smartlead";

/** Capabilities: `activate-version` (a full-table pass can drive removal of missing leads). */
export const CAPABILITIES = ["about", "activate-version"] as const;

/** The settings schema `--about` shows (draft-07). */
export function settingsSchema(): Record<string, unknown> {
  const props: Record<string, Record<string, unknown>> = {};
  for (const [name, schema] of Object.entries(settingsProperties())) {
    const { airbyte_secret: secret, ...rest } = schema;
    props[name] = secret ? { ...rest, secret: true, writeOnly: true } : rest;
  }
  props.load_method = {
    type: "string",
    title: "Load method",
    description:
      "upsert: incremental dedup by email (default); overwrite: every run is a full refresh. append-only is not possible (Smartlead keeps one lead per email).",
    enum: ["upsert", "overwrite", "append-only"],
    default: "upsert",
  };
  props.state = {
    type: "string",
    title: "Index directory",
    description:
      "Where the dedup index lives. Default: .meltano/run/target-smartlead/ in the Meltano project.",
  };
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    type: "object",
    required: ["api_key", "campaign_id"],
    properties: props,
  };
}

export interface AboutInfo {
  name: string;
  description: string;
  version: string;
  capabilities: string[];
  settings: Record<string, unknown>;
}

export function aboutInfo(): AboutInfo {
  return {
    name: TARGET_NAME,
    description: "Singer target for Smartlead.ai campaigns (smartlead-sync)",
    version: VERSION,
    capabilities: [...CAPABILITIES],
    settings: settingsSchema(),
  };
}

/** `--about` as text, JSON or Markdown. */
export function formatAbout(format: string | undefined): string {
  const a = aboutInfo();
  if (format === "json") return JSON.stringify(a, null, 2) + "\n";
  const props = (a.settings.properties ?? {}) as Record<string, Record<string, unknown>>;
  const required = (a.settings.required ?? []) as string[];
  if (format === "markdown") {
    const rows = Object.entries(props).map(([name, s]) =>
      `| ${name} | ${required.includes(name) ? "True" : "False"} | ${
        s.default === undefined ? "None" : String(s.default)
      } | ${String(s.description ?? s.title ?? "").replaceAll("\n", "<BR/>")} |`
    );
    return [
      `# \`${a.name}\``,
      "",
      a.description,
      "",
      "## Capabilities",
      "",
      ...a.capabilities.map((c) => `- \`${c}\``),
      "",
      "## Settings",
      "",
      "| Setting | Required | Default | Description |",
      "|:--------|:--------:|:-------:|:------------|",
      ...rows,
      "",
    ].join("\n");
  }
  return [
    `Name: ${a.name}`,
    `Description: ${a.description}`,
    `Version: ${a.version}`,
    "Capabilities:",
    ...a.capabilities.map((c) => `  - ${c}`),
    "Settings:",
    ...Object.entries(props).map(([name, s]) => `  - Name: ${name}\n    Type: ${s.type ?? "any"}`),
    "",
  ].join("\n");
}

const SingerConfigSchema = SharedConfigSchema.extend({
  load_method: z.enum(["upsert", "overwrite", "append-only"]).optional(),
  state: z.string().min(1).optional(),
});
export type SingerConfig = SharedConfig & {
  load_method?: "upsert" | "overwrite" | "append-only" | undefined;
  state?: string | undefined;
};

/** Reads the `--config` files (later ones win, key by key) and checks the result. */
export async function readSingerConfig(paths: readonly string[]): Promise<SingerConfig> {
  if (paths.length === 0) {
    throw new UsageError("no --config given", "pass --config <file> (Meltano passes one)");
  }
  const merged: Record<string, unknown> = {};
  for (const path of paths) {
    const value = await readJson(path, "--config");
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new UsageError(`--config ${path}: not a JSON object`, "check --config");
    }
    Object.assign(merged, value);
  }
  const parsed = SingerConfigSchema.safeParse(merged);
  const what = paths.length === 1 ? `config ${paths[0]}` : `config ${paths.join(" + ")}`;
  if (!parsed.success) {
    throw new UsageError(`${what}: ${describeIssue(parsed.error.issues[0]!)}`, `fix it in ${what}`);
  }
  if (parsed.data.load_method === "append-only") {
    throw new UsageError(
      `${what}: load_method "append-only" is not possible: Smartlead keeps one lead per email`,
      'use "upsert" (incremental dedup, the default) or "overwrite" (full refresh)',
    );
  }
  return parsed.data as SingerConfig;
}
