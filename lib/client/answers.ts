/**
 * Reading Smartlead's answers as they really come (README, "How Smartlead's answers are
 * read"): leniently, because counters arrive as numbers or numeric strings, go missing, or
 * change shape between API generations, and by what they say rather than by their schema.
 * Pure functions: the client and the pipeline share them, and so can new routes (pause,
 * resume, unsubscribe) through `classifyLeadWrite`.
 */
import { normalizeEmail } from "../lead.ts";

/** An add-leads answer, every part optional, as the pipeline decides from it. */
export interface AddAnswer {
  /** `ok` as sent (undefined when absent). */
  ok: boolean | undefined;
  /** Every numeric counter, numbers and numeric strings alike, whatever its name. */
  counters: Record<string, number>;
  /** Normalised emails Smartlead named as invalid / unsubscribed. */
  invalid: string[];
  unsubscribed: string[];
  /** `emailToLeadIdMap` (emails normalised), or null when the answer has none. */
  ids:
    | { fresh: Map<string, number>; existing: Map<string, number>; other: Map<string, number> }
    | null;
  limitExhausted: boolean;
  stoppedCount: number | undefined;
  error: string | undefined;
}

const NUMERIC = /^\s*\d+\s*$/;

function count(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v) && v >= 0) return v;
  if (typeof v === "string" && NUMERIC.test(v)) return Number(v);
  return undefined;
}

function asObject(json: unknown): Record<string, unknown> | undefined {
  return json !== null && typeof json === "object" && !Array.isArray(json)
    ? json as Record<string, unknown>
    : undefined;
}

/** Strings (or `{email}` objects) out of one of Smartlead's email lists. */
export function emailsIn(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  const out: string[] = [];
  for (const item of list) {
    if (typeof item === "string") out.push(normalizeEmail(item));
    else if (typeof asObject(item)?.email === "string") {
      out.push(normalizeEmail(asObject(item)!.email as string));
    }
  }
  return out;
}

function idMap(m: unknown): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of Object.entries(asObject(m) ?? {})) {
    const n = count(v);
    if (n !== undefined) out.set(normalizeEmail(k), n);
  }
  return out;
}

/**
 * Reads any add-leads answer: a 2xx was applied whatever its body looks like, so this never
 * fails. Not JSON, `{}` or `{"ok":true}` give an answer without counters ("applied,
 * unconfirmed"); `unsubscribed_leads` as a number (the old docs) becomes a counter.
 */
export function readAddAnswer(json: unknown): AddAnswer {
  const o = asObject(json) ?? {};
  const counters: Record<string, number> = {};
  for (const [k, v] of Object.entries(o)) {
    const n = count(v);
    if (n !== undefined) counters[k] = n;
  }
  const map = asObject(o.emailToLeadIdMap);
  return {
    ok: typeof o.ok === "boolean" ? o.ok : undefined,
    counters,
    invalid: emailsIn(o.invalid_emails),
    unsubscribed: emailsIn(o.unsubscribed_leads),
    ids: map
      ? {
        fresh: idMap(map.newlyAddedLeads),
        existing: idMap(map.existingLeads),
        other: idMap(map.existingLeadsInOtherCampaigns),
      }
      : null,
    limitExhausted: isLimitExhausted(json),
    stoppedCount: count(o.lead_import_stopped_count),
    error: typeof o.error === "string"
      ? o.error
      : typeof o.message === "string"
      ? o.message
      : undefined,
  };
}

/** `is_lead_limit_exhausted: true` (or "true") in an answer of any status. */
export function isLimitExhausted(json: unknown): boolean {
  const v = asObject(json)?.is_lead_limit_exhausted;
  return v === true || v === "true";
}

/** Smartlead's message in an answer (`error`, `message`, or an `error.message`), if any. */
export function messageIn(json: unknown, text = ""): string | undefined {
  const o = asObject(json);
  if (o) {
    for (const v of [o.error, o.message, asObject(o.error)?.message]) {
      if (typeof v === "string" && v.trim() !== "") return v;
    }
    return undefined;
  }
  const t = text.trim();
  return t !== "" && t.length < 300 ? t : undefined;
}

/** Messages that say a lead id names no lead (a lead deleted in Smartlead's UI). */
const STALE_ID =
  /invalid lead[ _-]?id|lead[ _-]?id (is )?invalid|lead (was )?not found|no lead found|lead (does not|doesn't) exist/i;

/** What a write to one lead (`/campaigns/{cid}/leads/{id}[/...]`) came to. */
export type LeadWrite =
  | { kind: "ok" }
  /**
   * The id names no member of the campaign (404, or any answer saying the id is invalid).
   * `sure` is false for a bare 404, whose cause is not spelled out.
   */
  | { kind: "stale"; sure: boolean; message: string }
  /** A 2xx that is not a success, e.g. `{"ok":false}`: nothing was applied. */
  | { kind: "not_applied"; message: string }
  /** `is_lead_limit_exhausted`, whatever the status. */
  | { kind: "limit"; message: string };

/**
 * Classifies an answer to a write on one lead id: the one place that decides "stale id".
 * `success` says what a 2xx must look like to count as applied: `ok` (the update's
 * `{"ok":true}`, or `{"success":true}`, or the bare text `success`) or `lenient` (any 2xx
 * that does not say `ok:false` or name an error, for `DELETE`'s bare text).
 */
export function classifyLeadWrite(
  status: number,
  json: unknown,
  text: string,
  success: "ok" | "lenient" = "ok",
): LeadWrite {
  const o = asObject(json);
  const message = messageIn(json, text);
  if (isLimitExhausted(json)) return { kind: "limit", message: message ?? "lead limit exhausted" };
  if (message !== undefined && STALE_ID.test(message)) {
    return { kind: "stale", sure: true, message };
  }
  if (status === 404) return { kind: "stale", sure: false, message: message ?? "HTTP 404" };
  if (status >= 200 && status < 300) {
    const said = o?.ok ?? o?.success;
    if (said === true || /^"?success"?$/i.test(text.trim())) return { kind: "ok" };
    if (said === false || (o && typeof o.error === "string")) {
      return { kind: "not_applied", message: message ?? "ok: false without a reason" };
    }
    if (success === "lenient") return { kind: "ok" };
    return {
      kind: "not_applied",
      message: text.trim() === "" ? "an empty answer" : `not a success: ${text.trim()}`,
    };
  }
  return { kind: "not_applied", message: message ?? `HTTP ${status}` };
}

/**
 * Whether `(status, body)` says that a lead id is not in the campaign: a 404, or a JSON body
 * whose message says so (`{"error":"Invalid lead id"}` on a 500, a 400, or a 200 with
 * `ok: false`). The same test `classifyLeadWrite` makes, for callers holding an error.
 */
export function isStaleLeadIdAnswer(status: number, json: unknown): boolean {
  if (status === 404) return true;
  if (asObject(json) === undefined) return false;
  const message = messageIn(json);
  return message !== undefined && STALE_ID.test(message);
}

/** Whether the client should hand this non-2xx answer to `classifyLeadWrite` as it is. */
export function isLeadWriteVerdict(status: number, json: unknown, text: string): boolean {
  if (status === 404 || isLimitExhausted(json)) return true;
  const message = messageIn(json, text);
  return message !== undefined && STALE_ID.test(message);
}

/**
 * What a 400 from Smartlead's validator names: `"lead_list[3].company" is not allowed`,
 * `validation.keys: ["lead_list[3].company"]`. `leads` are the positions of the refused
 * items; `request` is set when a key lies outside `lead_list[...]` (e.g. `settings.*`): the
 * request itself is wrong and no lead is at fault. Neither: the answer names nothing.
 */
export function namedInRefusal(json: unknown): {
  leads: Map<number, { key: string; message: string }>;
  request: { key: string; message: string } | undefined;
} {
  const o = asObject(json) ?? {};
  const message = typeof o.message === "string" ? o.message : "";
  let keys: string[] = [];
  const listed = asObject(o.validation)?.keys;
  if (Array.isArray(listed)) keys = listed.filter((k): k is string => typeof k === "string");
  // Without `validation.keys`, the message's leading label (Joi's messages begin with it).
  const label = /^"([A-Za-z0-9_$.[\]-]+)" /.exec(message);
  if (keys.length === 0 && label) keys.push(label[1]!);
  const leads = new Map<number, { key: string; message: string }>();
  let request: { key: string; message: string } | undefined;
  for (const key of keys) {
    const m = /^lead_list\[(\d+)\]/.exec(key);
    if (m) {
      if (!leads.has(Number(m[1]))) leads.set(Number(m[1]), { key, message: message || key });
    } else request ??= { key, message: message || `"${key}" is not valid` };
  }
  return { leads, request };
}
