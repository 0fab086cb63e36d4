/**
 * From a mapped row to a Smartlead lead: values as trimmed strings, empty ones omitted,
 * email trimmed and lower-cased, tags merged, then validated with the zod lead schema.
 */
import { z } from "zod";
import type { LeadPayload } from "./client/smartlead.ts";
import type { Row } from "./input/row.ts";
import type { ColumnPlan } from "./mapping.ts";

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
  | { ok: false; reason: string };

/** Sets an own property, even one named `__proto__` (a plain assignment would drop it). */
function setKey(obj: Record<string, string>, key: string, value: string): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function scalar(v: unknown): string | undefined | { bad: string } {
  if (v === null || v === undefined) return undefined;
  if (typeof v === "string") return v.trim();
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  return { bad: Array.isArray(v) ? "an array" : "an object" };
}

/** Builds the lead for one row with its column plan and the run's tags. */
export function buildLead(row: Row, plan: ColumnPlan, tags: readonly string[]): LeadResult {
  const lead: Record<string, unknown> = {};
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
    const s = scalar(raw);
    if (s === undefined || s === "") continue;
    if (typeof s === "object") {
      return {
        ok: false,
        reason: `field "${plan.columns[i]}" is ${s.bad}; only strings, numbers and booleans`,
      };
    }
    if (t.kind === "field") lead[t.field] = t.field === "email" ? normalizeEmail(s) : s;
    else if (t.kind === "tags") rowTags = s;
    else setKey(custom ??= {}, t.key, s);
  }
  if (rowTags !== undefined || tags.length > 0) {
    const merged = mergeTags(rowTags, tags);
    if (merged.length > 0) (custom ??= {}).tags = merged.join(",");
  }
  if (custom) lead.custom_fields = custom;
  if (lead.email === undefined) {
    return { ok: false, reason: plan.emailColumn < 0 ? "no email field" : "email is empty" };
  }
  const parsed = LeadSchema.safeParse(lead);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.join(".");
    const value = issue.path[0] === "email" ? ` (${JSON.stringify(lead.email)})` : "";
    return { ok: false, reason: `${where}: ${issue.message}${value}` };
  }
  // zod rebuilds records with plain assignment, which drops a `__proto__` key: keep ours.
  const data = custom ? { ...parsed.data, custom_fields: custom } : parsed.data;
  return { ok: true, lead: data as LeadPayload };
}
