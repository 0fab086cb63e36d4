/**
 * "This lead id is not (or no longer) in the campaign": how Smartlead says it on the routes
 * that take a lead id (update, delete, pause, resume, unsubscribe). Leads deleted in the UI
 * leave stale ids in the index; their routes answer 404, or 500 `{"error":"Invalid lead id"}`
 * (documented on sibling routes). Kept in this one place so that every caller classifies the
 * same way (a shared version is being written for issue #8 §4; unify them at merge).
 */

/** The answer body of a stale lead id on a 500: `{"error":"Invalid lead id"}`. */
const INVALID_LEAD_ID = /invalid lead[ _-]?id/i;

/**
 * Whether `(status, body)` says that the lead id is not in the campaign: a 404, or a body
 * saying "Invalid lead id" (on a 500, a 400, or a 200 with `ok: false`).
 */
export function isStaleLeadIdAnswer(status: number, json: unknown): boolean {
  if (status === 404) return true;
  if (json === null || typeof json !== "object") return false;
  const o = json as Record<string, unknown>;
  const text = [o.error, o.message].filter((v) => typeof v === "string").join(" ");
  return INVALID_LEAD_ID.test(text);
}
