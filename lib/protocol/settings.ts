/**
 * The settings the Airbyte destination and the Singer target share: one JSON Schema
 * (draft-07; Airbyte's `connectionSpecification`, Singer's `--about` settings) and the zod
 * schema that checks a config against it, naming the field at fault.
 */
import { z } from "zod";
import { DEFAULT_BASE_URL } from "../client/smartlead.ts";
import { parseRate } from "../client/rate_limiter.ts";
import { UsageError } from "../errors.ts";
import { mergeTags } from "../lead.ts";
import { type Limit, parseLimit } from "../pipeline/guard_rails.ts";
import type { PushOptions } from "../push.ts";

/** What happens to leads a full refresh no longer contains (push's `--missing` choices). */
export const MISSING_CHOICES = ["ignore", "pause", "unsubscribe", "delete"] as const;
export type MissingChoice = typeof MISSING_CHOICES[number];

const SETTING_KEYS = [
  "ignore_global_block_list",
  "ignore_unsubscribe_list",
  "ignore_community_bounce_list",
  "ignore_duplicate_leads_in_other_campaign",
] as const;

const LIMIT = /^\s*\d+(\.\d+)?\s*%\s*$|^\s*\d+\s*$/;

/** The JSON Schema properties both platforms show (Airbyte adds `order` and `airbyte_*`). */
export function settingsProperties(): Record<string, Record<string, unknown>> {
  return {
    api_key: {
      type: "string",
      title: "API key",
      description: "Smartlead API key (Settings → API Key in Smartlead).",
      airbyte_secret: true,
    },
    campaign_id: {
      type: "integer",
      title: "Campaign ID",
      description: "The Smartlead campaign the leads go into (the number in its URL).",
      minimum: 1,
    },
    tags: {
      title: "Tags",
      description:
        'Tags added to every lead, as the custom field "tags": a list, or one comma-separated string.',
      anyOf: [{ type: "array", items: { type: "string" } }, { type: "string" }],
    },
    email_field: {
      type: "string",
      title: "Email field",
      description:
        "The record field that holds the email (the dedup key). Default: the stream's primary key when it is one email field, else the field named like an email (email, work_email, ...).",
    },
    settings: {
      type: "object",
      title: "Smartlead import settings",
      description: "The settings object of Smartlead's add-leads request.",
      additionalProperties: false,
      properties: Object.fromEntries(
        SETTING_KEYS.map((k) => [k, { type: "boolean", default: false, title: k }]),
      ),
    },
    batch_size: {
      type: "integer",
      title: "Batch size",
      description: "Leads per add-leads request (Smartlead accepts at most 400).",
      minimum: 1,
      maximum: 400,
      default: 100,
    },
    missing: {
      type: "string",
      title: "Leads missing from a full refresh",
      description:
        "What happens to leads in the campaign that a full refresh no longer contains. Off (ignore) by default; delete is bounded by max_deletes.",
      enum: [...MISSING_CHOICES],
      default: "ignore",
    },
    max_deletes: {
      type: "string",
      title: "Most leads removed per sync",
      description:
        'Stop before any write when more leads would be removed: a count ("250") or a share of the campaign ("5%"). Default: 10%, at most 1000.',
      pattern: LIMIT.source,
    },
    rate: {
      type: "string",
      title: "Request budget",
      description: 'Requests per window in seconds, e.g. "10/2" (the default).',
      pattern: "^\\s*\\d+\\s*/\\s*\\d+(\\.\\d+)?\\s*(s|ms)?\\s*$",
    },
    base_url: {
      type: "string",
      title: "API base URL",
      description: "For tests against a sandbox.",
      default: DEFAULT_BASE_URL,
    },
    concurrency: {
      type: "integer",
      title: "Requests in flight",
      minimum: 1,
      maximum: 32,
      default: 4,
    },
    backoff_ms: {
      type: "integer",
      title: "First retry delay (ms)",
      minimum: 0,
      maximum: 600000,
    },
  };
}

/** Settings only an operator should touch: hidden in Airbyte's form. */
export const HIDDEN_SETTINGS = ["base_url", "concurrency", "backoff_ms"] as const;

const digits = z.string().regex(/^\s*\d+\s*$/).transform((s) => Number(s.trim()));

/** The shared config, as zod checks it (unknown keys are left to each platform). */
export const SharedConfigSchema = z.looseObject({
  api_key: z.string().min(1, "is required"),
  campaign_id: z.union([z.number().int().min(1), digits.pipe(z.number().int().min(1))], {
    error: "expected a campaign id (a whole number)",
  }),
  tags: z.union([z.array(z.string()), z.string()]).optional(),
  email_field: z.string().min(1).optional(),
  settings: z.strictObject(
    Object.fromEntries(SETTING_KEYS.map((k) => [k, z.boolean().optional()])) as Record<
      typeof SETTING_KEYS[number],
      z.ZodOptional<z.ZodBoolean>
    >,
  ).optional(),
  batch_size: z.number().int().min(1).max(400).optional(),
  missing: z.enum(MISSING_CHOICES).optional(),
  max_deletes: z.union([z.number().int().min(0), z.string().regex(LIMIT)]).optional(),
  rate: z.string().optional(),
  base_url: z.url().optional(),
  concurrency: z.number().int().min(1).max(32).optional(),
  backoff_ms: z.number().int().min(0).max(600_000).optional(),
});
export type SharedConfig = z.infer<typeof SharedConfigSchema>;

/**
 * Parses a config object; a problem is a usage error naming the field (`what`: where the
 * config came from, for the message).
 */
export function parseShared(value: unknown, what: string): SharedConfig {
  const parsed = SharedConfigSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new UsageError(`${what}: ${describeIssue(parsed.error.issues[0]!)}`, `fix it in ${what}`);
}

/** One zod issue as `field: what is wrong`. */
export function describeIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.length > 0 ? issue.path.join(".") : "config";
  const message = issue.code === "invalid_type" && issue.input === undefined
    ? "is required"
    : issue.message;
  return `${where}: ${message}`;
}

/** The push options every protocol run shares, from the config. */
export function sharedPushOptions(config: SharedConfig, what: string): PushOptions {
  const opts: PushOptions = {
    inputs: ["-"],
    format: "ndjson",
    campaignId: config.campaign_id,
    apiKey: config.api_key,
    baseUrl: config.base_url ?? DEFAULT_BASE_URL,
    tags: mergeTags(config.tags),
    batchSize: config.batch_size ?? 100,
    concurrency: config.concurrency ?? 4,
    settings: Object.fromEntries(
      Object.entries(config.settings ?? {}).filter(([, v]) => v !== undefined),
    ),
    // A record that cannot be a lead is a warning, never the end of the sync.
    maxRejects: { percent: 100 },
  };
  if (config.rate !== undefined) {
    const rate = parseRate(config.rate);
    if (!rate) throw new UsageError(`${what}: rate: expected n/seconds, e.g. 10/2`, `fix it`);
    opts.rate = rate;
  }
  if (config.max_deletes !== undefined) {
    opts.maxDeletes = parseLimit(`${what}: max_deletes`, config.max_deletes) as Limit;
  }
  if (config.backoff_ms !== undefined) opts.backoffBaseMs = config.backoff_ms;
  return opts;
}

/**
 * What `missing` asks of a full refresh, as push options: push's `--missing` action (`delete`
 * is its `deleteMissing`), with every guard rail of removal. Nothing outside a full refresh.
 */
export function missingOptions(
  choice: MissingChoice,
  fullRefresh: boolean,
  _what: string,
): Pick<PushOptions, "deleteMissing" | "missing"> {
  if (!fullRefresh || choice === "ignore") return {};
  if (choice === "delete") return { deleteMissing: true };
  return { missing: choice };
}

/** A JSON file's value, or a usage error naming the flag. */
export async function readJson(path: string, flag: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new UsageError(
      `${flag} ${path}: cannot read it: ${e instanceof Error ? e.message : String(e)}`,
      `check ${flag}`,
    );
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`${flag} ${path}: not valid JSON`, `check ${flag}`);
  }
}
