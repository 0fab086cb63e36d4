/**
 * From a mapped row to a Smartlead lead: values as trimmed strings, empty ones omitted,
 * email trimmed and lower-cased, tags merged, then validated with the zod lead schema.
 */
import { z } from "zod";
import type { LeadPayload } from "./client/smartlead.ts";
import type { Row } from "./input/row.ts";
import { type ColumnPlan, LEAD_FIELDS } from "./mapping.ts";

const text = z.string().min(1).max(10_000);

/** The lead Smartlead accepts: exactly the ten keys, every value a string. */
export const LeadSchema = z.strictObject({
  email: z.email({ error: "not a valid email address" }).max(320),
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

/** Trim + lower-case: the dedup key. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

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

const EMAIL_RE: RegExp = z.regexes.email;
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
  return { bad: Array.isArray(v) ? "an array" : "an object" };
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
 * reordering an export's columns does not look like a change.
 */
export function buildLead(row: Row, plan: ColumnPlan, tags: readonly string[]): LeadResult {
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
          return { ok: false, reason: `custom field "${k}" is ${s.bad}, not a string` };
        }
        if (s) setKey(custom ??= {}, k, s);
      }
      continue;
    }
    const s = typeof raw === "string" ? raw.trim() : scalar(raw);
    if (s === undefined || s === "") continue;
    if (typeof s === "object") {
      return {
        ok: false,
        reason: `field "${plan.columns[i]}" is ${s.bad}; only strings, numbers and booleans`,
      };
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
  if (std[0] !== undefined) lead.email = normalizeEmail(std[0]);
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
  if (passesLeadSchema(lead)) return { ok: true, lead: lead as unknown as LeadPayload };
  const parsed = LeadSchema.safeParse(lead);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.join(".");
    const value = issue.path[0] === "email" ? ` (${JSON.stringify(lead.email)})` : "";
    const emailOk = !parsed.error.issues.some((i) => i.path[0] === "email");
    return {
      ok: false,
      reason: `${where}: ${issue.message}${value}`,
      ...(emailOk ? { email: lead.email as string } : {}),
    };
  }
  // zod rebuilds records with plain assignment, which drops a `__proto__` key: keep ours.
  const data = custom ? { ...parsed.data, custom_fields: custom } : parsed.data;
  return { ok: true, lead: data as LeadPayload };
}
