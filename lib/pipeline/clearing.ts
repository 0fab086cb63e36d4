/**
 * Clearing: a lead's payload omits empty values, and Smartlead merges custom fields, so a
 * value emptied in the source (or a custom field dropped) would never reach Smartlead. The
 * index keeps the field names of the payload Smartlead last accepted (a field set); a lead
 * sent again gets `""` for each of those names its new payload lacks. The payload hash is
 * computed without these additions, so an unchanged lead keeps the hash it always had.
 */
import type { LeadPayload } from "../client/smartlead.ts";

/**
 * The field names of a payload, as one canonical string (the key of a field set): the
 * standard fields in payload order, then the custom field names (already sorted).
 */
export function fieldNamesOf(payload: LeadPayload | string): string {
  const lead = (typeof payload === "string" ? JSON.parse(payload) : payload) as LeadPayload;
  const std: string[] = [];
  for (const k of Object.keys(lead)) {
    if (k !== "email" && k !== "custom_fields") std.push(k);
  }
  return JSON.stringify([std, Object.keys(lead.custom_fields ?? {})]);
}

function parseNames(names: string): [string[], string[]] | undefined {
  try {
    const v = JSON.parse(names);
    if (Array.isArray(v) && Array.isArray(v[0]) && Array.isArray(v[1])) {
      return [v[0].map(String), v[1].map(String)];
    }
  } catch {
    // a damaged entry clears nothing
  }
  return undefined;
}

/**
 * The payload to send: `lead` plus `""` for every field `previous` (the names of the last
 * accepted payload) had and `lead` lacks. `cleared` names them (`first_name`,
 * `custom_fields.Title`), for messages and for a refusal that names one of them.
 */
export function withClears(
  lead: LeadPayload,
  previous: string | undefined,
): { payload: LeadPayload; cleared: string[] } {
  const names = previous === undefined ? undefined : parseNames(previous);
  if (!names) return { payload: lead, cleared: [] };
  const cleared: string[] = [];
  const out = { ...lead } as Record<string, unknown>;
  for (const k of names[0]) {
    if (k === "email" || k === "custom_fields" || out[k] !== undefined) continue;
    out[k] = "";
    cleared.push(k);
  }
  const custom = lead.custom_fields ?? {};
  let fields: Record<string, string> | undefined;
  for (const k of names[1]) {
    if (Object.hasOwn(custom, k)) continue;
    fields ??= { ...custom };
    Object.defineProperty(fields, k, { value: "", enumerable: true, writable: true });
    cleared.push(`custom_fields.${k}`);
  }
  if (fields) out.custom_fields = fields;
  return { payload: out as unknown as LeadPayload, cleared };
}
