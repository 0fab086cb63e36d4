/**
 * From a mapped row to a Smartlead lead: values as trimmed strings (arrays of scalars
 * comma-joined), empty ones omitted, email normalised (lib/email.ts), tags merged, the
 * custom-field cap applied, then validated with the zod lead schema.
 */
import { z } from "zod";
import type { LeadPayload } from "./client/smartlead.ts";
import { asciiEmail, EMAIL_RE, explainEmail, visible } from "./email.ts";
import type { Row } from "./input/row.ts";
import { type ColumnPlan, LEAD_FIELDS } from "./mapping.ts";

export { normalizeEmail } from "./email.ts";

/**
 * Custom fields per lead: Smartlead's current docs say 200 (older ones 20). Rows with more
 * non-empty custom fields are rejected before sending (`--max-custom-fields`).
 */
export const DEFAULT_MAX_CUSTOM_FIELDS = 200;

const text = z.string().min(1).max(10_000);

/** The lead Smartlead accepts: exactly the ten keys, every value a string. */
export const LeadSchema = z.strictObject({
  email: z.email({ pattern: EMAIL_RE, error: "not a valid email address" }).max(320),
  first_name: text.optional(),
  last_name: text.optional(),
  phone_number: text.optional(),
  company_name: text.optional(),
  website: text.optional(),
  location: text.optional(),
  linkedin_profile: text.optional(),
  company_url: text.optional(),
  custom_fields: z.record(z.string().min(1).max(200), z.string().max(10_000)).optional(),
});

/** Splits, trims and de-duplicates tags, keeping first-seen order. */
export function mergeTags(...lists: (readonly string[] | string | undefined)[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const list of lists) {
    const items = typeof list === "string" ? list.split(",") : list ?? [];
    for (const raw of items) {
      const t = raw.trim();
      if (t !== "" && !seen.has(t.toLowerCase())) {
        seen.add(t.toLowerCase());
        out.push(t);
      }
    }
  }
  return out;
}

/** The outcome of turning a row into a lead. */
export type LeadResult =
  | { ok: true; lead: LeadPayload }
  | {
    ok: false;
    reason: string; /** The row's email, when the email itself is valid. */
    email?: string;
  };

/** Sets an own property, even one named `__proto__` (a plain assignment would drop it). */
function setKey(obj: Record<string, string>, key: string, value: string): void {
  if (key !== "__proto__") obj[key] = value;
  else {Object.defineProperty(obj, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });}
}

/** The nine string fields besides email, in Smartlead's order. */
const TEXT_KEYS = LEAD_FIELDS.filter((f) => f !== "email");

/**
 * The same checks as `LeadSchema`, written out for the hot path, for leads `buildLead`
 * assembles (only the ten keys, string values). True means the schema accepts the lead;
 * false sends it to zod, which decides and words the reason. `lead_test.ts` checks that
 * both agree.
 */
export function passesLeadSchema(lead: Record<string, unknown>): boolean {
  const email = lead.email;
  if (typeof email !== "string" || email.length > 320 || !EMAIL_RE.test(email)) return false;
  for (const k of TEXT_KEYS) {
    const v = lead[k];
    if (v !== undefined && (typeof v !== "string" || v.length < 1 || v.length > 10_000)) {
      return false;
    }
  }
  const custom = lead.custom_fields;
  if (custom !== undefined) {
    if (custom === null || typeof custom !== "object") return false;
    for (const k of Object.keys(custom)) {
      const v = (custom as Record<string, unknown>)[k];
      if (k.length < 1 || k.length > 200 || typeof v !== "string" || v.length > 10_000) {
        return false;
      }
    }
  }
  return true;
}

function scalar(v: unknown): string | undefined | { bad: string } {
  if (v === null || v === undefined) return undefined;
  if (typeof v === "string") return v.trim();
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  if (Array.isArray(v)) return joined(v);
  return {
    bad: "a nested object (rejected by --nested reject; the default, flatten, sends its " +
      "keys as parent.child custom fields)",
  };
}

/** An array of scalars as one comma-joined string (`["a","b"]` → `a,b`), nulls and blanks left out. */
function joined(items: readonly unknown[]): string | { bad: string } {
  const parts: string[] = [];
  for (const item of items) {
    if (item === null || item === undefined) continue;
    if (typeof item === "object") return { bad: "an array holding objects or arrays" };
    const s = String(item).trim();
    if (s !== "") parts.push(s);
  }
  return parts.join(",");
}

const FIELD_INDEX: Record<string, number> = Object.fromEntries(
  ["email", ...TEXT_KEYS].map((f, i) => [f, i]),
);

/** Custom fields with their keys sorted, so that the payload (and its hash) is canonical. */
function sortedCustom(custom: Record<string, string>): Record<string, string> {
  const keys = Object.keys(custom);
  if (keys.length < 2) return custom;
  keys.sort();
  const out: Record<string, string> = {};
  for (const k of keys) setKey(out, k, custom[k]!);
  return out;
}

/**
 * Builds the lead for one row with its column plan and the run's tags. Keys come out in a
 * fixed order (the ten fields, then custom fields sorted), whatever the column order, so
 * reordering an export's columns does not look like a change. A lead with more non-empty
 * custom fields than `maxCustomFields` is rejected.
 */
export function buildLead(
  row: Row,
  plan: ColumnPlan,
  tags: readonly string[],
  maxCustomFields: number = DEFAULT_MAX_CUSTOM_FIELDS,
): LeadResult {
  const std: Array<string | undefined> = [];
  let custom: Record<string, string> | undefined;
  let rowTags: string | undefined;
  const { targets } = plan;
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i]!;
    if (t.kind === "ignore") continue;
    const raw = row.values[i];
    if (t.kind === "custom_fields_object") {
      if (raw === null || raw === undefined || raw === "") continue;
      if (typeof raw !== "object" || Array.isArray(raw)) {
        return { ok: false, reason: `"${plan.columns[i]}" must be an object of strings` };
      }
      for (const [k, v] of Object.entries(raw)) {
        const s = scalar(v);
        if (typeof s === "object") {
          return { ok: false, reason: `custom field "${k}" is ${s.bad}` };
        }
        if (s) setKey(custom ??= {}, k, s);
      }
      continue;
    }
    const s = typeof raw === "string" ? raw.trim() : scalar(raw);
    if (s === undefined || s === "") continue;
    if (typeof s === "object") {
      return { ok: false, reason: `field "${plan.columns[i]}" is ${s.bad}` };
    }
    if (t.kind === "field") std[FIELD_INDEX[t.field]!] = s;
    else if (t.kind === "tags") rowTags = s;
    else setKey(custom ??= {}, t.key, s);
  }
  if (rowTags !== undefined || tags.length > 0) {
    const merged = mergeTags(rowTags, tags);
    if (merged.length > 0) (custom ??= {}).tags = merged.join(",");
  }
  const lead: Record<string, unknown> = {};
  // std values are trimmed; an international domain is converted below, only if needed.
  if (std[0] !== undefined) lead.email = std[0].toLowerCase();
  for (let k = 0; k < TEXT_KEYS.length; k++) {
    const v = std[k + 1];
    if (v !== undefined) lead[TEXT_KEYS[k]!] = v;
  }
  if (custom) {
    custom = sortedCustom(custom);
    lead.custom_fields = custom;
  }
  if (lead.email === undefined) {
    return { ok: false, reason: plan.emailColumn < 0 ? "no email field" : "email is empty" };
  }
  // Valid leads still over the custom-field cap are rejected (counted only when the plan
  // could exceed it, so the common case pays nothing).
  const accept = (valid: Record<string, unknown>): LeadResult => {
    if (custom && (plan.customBound ?? Infinity) > maxCustomFields) {
      const n = Object.keys(custom).length;
      if (n > maxCustomFields) {
        return {
          ok: false,
          reason: `${n} non-empty custom fields; Smartlead takes at most ${maxCustomFields} ` +
            "per lead (--max-custom-fields): drop columns with --map ignore=<column>",
          email: valid.email as string,
        };
      }
    }
    return { ok: true, lead: valid as unknown as LeadPayload };
  };
  if (passesLeadSchema(lead)) return accept(lead);
  // Off the hot path: an international domain in its ASCII form, then the check again.
  const ascii = asciiEmail(lead.email as string);
  if (ascii !== lead.email) {
    lead.email = ascii;
    if (passesLeadSchema(lead)) return accept(lead);
  }
  const parsed = LeadSchema.safeParse(lead);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.join(".");
    const email = lead.email as string;
    const emailOk = !parsed.error.issues.some((i) => i.path[0] === "email");
    const what = issue.path[0] === "email" && issue.path.length === 1
      ? `${issue.message} (${visible(email)}): ${explainEmail(email)}`
      : issue.message;
    return {
      ok: false,
      reason: `${where}: ${what}`,
      ...(emailOk ? { email } : {}),
    };
  }
  // zod rebuilds records with plain assignment, which drops a `__proto__` key: keep ours.
  const data = custom ? { ...parsed.data, custom_fields: custom } : parsed.data;
  return accept(data);
}
