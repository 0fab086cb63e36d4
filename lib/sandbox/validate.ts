/**
 * Strict request-body validation with Smartlead's (Joi/celebrate) error shape:
 * the first offending key wins, named by its full path, e.g. `lead_list[0].company`.
 */

import { type AddSettings, LEAD_KEYS, type LeadInput, TEXT_FIELDS } from "./state.ts";

/** The 400 body Smartlead sends for a schema violation. */
export interface BadRequestBody {
  statusCode: 400;
  error: "Bad Request";
  message: string;
  validation: { source: "body" | "query" | "params"; keys: string[] };
}

export type Checked<T> = { ok: true; value: T } | { ok: false; error: BadRequestBody };

export const SETTINGS_KEYS = [
  "ignore_global_block_list",
  "ignore_unsubscribe_list",
  "ignore_community_bounce_list",
  "ignore_duplicate_leads_in_other_campaign",
  "return_lead_ids",
] as const;
export const MAX_CUSTOM_FIELDS = 200;

class Invalid extends Error {
  constructor(readonly path: string, readonly rule: string) {
    super(`"${path}" ${rule}`);
  }
}

/** Build the 400 body for a message that names `key`. */
export function badRequest(
  key: string,
  rule: string,
  source: "body" | "query" | "params" = "body",
): BadRequestBody {
  return {
    statusCode: 400,
    error: "Bad Request",
    message: `"${key}" ${rule}`,
    validation: { source, keys: [key] },
  };
}

function join(prefix: string, key: string): string {
  return prefix === "" ? key : `${prefix}.${key}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function object(value: unknown, path: string): Record<string, unknown> {
  if (!isObject(value)) throw new Invalid(path || "value", "must be of type object");
  return value;
}

function allowOnly(obj: Record<string, unknown>, keys: readonly string[], prefix: string): void {
  for (const key of Object.keys(obj)) {
    if (!keys.includes(key)) throw new Invalid(join(prefix, key), "is not allowed");
  }
}

function lead(value: unknown, prefix: string, maxCustomFields: number): LeadInput {
  const obj = object(value, prefix);
  allowOnly(obj, LEAD_KEYS, prefix);
  for (const key of Object.keys(obj)) {
    if (key !== "custom_fields" && typeof obj[key] !== "string") {
      throw new Invalid(join(prefix, key), "must be a string");
    }
  }
  const email = obj.email;
  if (email === undefined) throw new Invalid(join(prefix, "email"), "is required");
  const out: LeadInput = { email: String(email) };
  for (const field of TEXT_FIELDS) {
    const v = obj[field];
    if (typeof v === "string") out[field] = v;
  }
  if (obj.custom_fields !== undefined) {
    const path = join(prefix, "custom_fields");
    const fields = object(obj.custom_fields, path);
    const entries = Object.entries(fields);
    if (entries.length > maxCustomFields) {
      throw new Invalid(path, `must have less than or equal to ${maxCustomFields} keys`);
    }
    for (const [k, v] of entries) {
      if (typeof v !== "string") throw new Invalid(`${path}.${k}`, "must be a string");
    }
    out.custom_fields = fields as Record<string, string>;
  }
  return out;
}

function settings(value: unknown): AddSettings {
  const obj = object(value, "settings");
  allowOnly(obj, SETTINGS_KEYS, "settings");
  const out: AddSettings = {};
  for (const key of SETTINGS_KEYS) {
    const v = obj[key];
    if (v === undefined) continue;
    if (typeof v !== "boolean") throw new Invalid(`settings.${key}`, "must be a boolean");
    out[key] = v;
  }
  return out;
}

function check<T>(fn: () => T): Checked<T> {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    if (e instanceof Invalid) return { ok: false, error: badRequest(e.path, e.rule) };
    throw e;
  }
}

/** Validate a `POST /campaigns/{id}/leads` body. */
export function validateAddBody(
  body: unknown,
  maxCustomFields = MAX_CUSTOM_FIELDS,
): Checked<{ lead_list: LeadInput[]; settings: AddSettings }> {
  return check(() => {
    const obj = object(body, "");
    allowOnly(obj, ["lead_list", "settings"], "");
    const list = obj.lead_list;
    if (list === undefined) throw new Invalid("lead_list", "is required");
    if (!Array.isArray(list)) throw new Invalid("lead_list", "must be an array");
    if (list.length === 0) throw new Invalid("lead_list", "must contain at least 1 items");
    return {
      lead_list: list.map((item, i) => lead(item, `lead_list[${i}]`, maxCustomFields)),
      settings: obj.settings === undefined ? {} : settings(obj.settings),
    };
  });
}

/** Validate a `POST /campaigns/{cid}/leads/{lead_id}` body (one lead_list item). */
export function validateLeadBody(
  body: unknown,
  maxCustomFields = MAX_CUSTOM_FIELDS,
): Checked<LeadInput> {
  return check(() => lead(body, "", maxCustomFields));
}

/** Parse a non-negative integer query parameter; `max` caps it. */
export function queryInt(
  params: URLSearchParams,
  name: string,
  fallback: number,
  max?: number,
): Checked<number> {
  const raw = params.get(name);
  if (raw === null || raw === "") return { ok: true, value: fallback };
  const n = Number(raw);
  if (!Number.isInteger(n)) {
    return { ok: false, error: badRequest(name, "must be a number", "query") };
  }
  if (n < 0) {
    return { ok: false, error: badRequest(name, "must be greater than or equal to 0", "query") };
  }
  if (max !== undefined && n > max) {
    return {
      ok: false,
      error: badRequest(name, `must be less than or equal to ${max}`, "query"),
    };
  }
  return { ok: true, value: n };
}
