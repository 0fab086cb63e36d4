/**
 * What an applied add-leads request did to each lead, decided from the answer's lists, its
 * id map and its counters (`total_leads`, `already_added_to_campaign`, and the refusal
 * counters), never from the `ignore_duplicate_leads_in_other_campaign` setting, whose
 * meaning is contested. A lead the answer does not account for is "unknown", to be
 * confirmed from the campaign, never taken as refused.
 */
import type { AddAnswer } from "../client/answers.ts";

export type Verdict =
  /** Joined the campaign with this request. */
  | { kind: "added"; leadId: number | null }
  /** Was already in the campaign; its data was overwritten. */
  | { kind: "present"; leadId: number | null }
  /** In the campaign, but the counters do not say whether it was before (see `presentSlots`). */
  | { kind: "member"; leadId: number | null }
  /** Smartlead did not take it, for `reason`. */
  | { kind: "refused"; reason: string }
  /** The answer does not say: confirm from the campaign (`GET /leads/?email=`, the roster). */
  | { kind: "unknown"; leadId: number | null };

export interface Decision {
  verdicts: Verdict[];
  /**
   * Of the leads not named by the answer ("member" and "unknown" verdicts), how many the
   * counters say were already in the campaign; undefined when they do not say.
   */
  presentSlots: number | undefined;
  /** Why the counters say some of those leads were refused, when they say so. */
  refusal?: string;
}

/** Refusal counters and what each means, in the order a reason names them. */
const REFUSALS: Array<[counter: string, reason: string]> = [
  ["block_count", "Smartlead did not add it: global block list"],
  ["skipped_in_other_campaign_count", "Smartlead skipped it: the lead is in another campaign"],
  ["bounce_count", "Smartlead did not add it: bounce list"],
  ["invalid_email_count", "Smartlead: invalid email"],
  ["unsubscribed_leads", "Smartlead: unsubscribed"],
  ["duplicate_count", "Smartlead: duplicate in the request"],
];

/** Why the leads the counters call refused were refused, as far as the counters say. */
function refusalReason(counters: Record<string, number>, named: number): string {
  const seen = REFUSALS.filter(([k]) => (counters[k] ?? 0) > 0);
  // Named invalid/unsubscribed leads are decided already; their counters say nothing more.
  const rest = seen.filter(([k]) =>
    !(named > 0 && (k === "invalid_email_count" || k === "unsubscribed_leads"))
  );
  const list = rest.length > 0 ? rest : seen;
  if (list.length === 1) return list[0]![1];
  if (list.length === 0) return "Smartlead did not add it (its answer gives no reason)";
  return `Smartlead did not add it (${list.map(([k]) => `${k}=${counters[k]}`).join(", ")})`;
}

/**
 * Decides each lead of an applied batch (`emails` normalised, in request order).
 * Counters may be missing or inconsistent; then the leads they were to decide are "unknown".
 */
export function decideAdd(emails: readonly string[], answer: AddAnswer): Decision {
  const invalid = new Set(answer.invalid);
  const unsubscribed = new Set(answer.unsubscribed);
  const ids = answer.ids;
  const verdicts: Verdict[] = [];
  const open: number[] = [];
  let namedAdded = 0, namedPresent = 0, namedRefused = 0;
  for (const [i, e] of emails.entries()) {
    if (invalid.has(e)) {
      verdicts.push({ kind: "refused", reason: "Smartlead: invalid email" });
      namedRefused++;
    } else if (unsubscribed.has(e)) {
      verdicts.push({ kind: "refused", reason: "Smartlead: unsubscribed" });
      namedRefused++;
    } else if (ids?.fresh.has(e)) {
      verdicts.push({ kind: "added", leadId: ids.fresh.get(e)! });
      namedAdded++;
    } else if (ids?.existing.has(e)) {
      verdicts.push({ kind: "present", leadId: ids.existing.get(e)! });
      namedPresent++;
    } else {
      // In no bucket, or in existingLeadsInOtherCampaigns: added or skipped, the counters say.
      verdicts.push({ kind: "unknown", leadId: ids?.other.get(e) ?? null });
      open.push(i);
    }
  }
  const decision: Decision = { verdicts, presentSlots: undefined };
  if (open.length === 0) return decision;
  const c = answer.counters;
  const added = c.total_leads, present = c.already_added_to_campaign;
  const remA = added === undefined ? undefined : added - namedAdded;
  const remP = present === undefined ? undefined : present - namedPresent;
  const u = open.length;
  const all = (make: (leadId: number | null) => Verdict) => {
    for (const i of open) verdicts[i] = make((verdicts[i] as { leadId: number | null }).leadId);
  };
  const reason = () => refusalReason(c, namedRefused);
  if ((remA !== undefined && remA < 0) || (remP !== undefined && remP < 0)) return decision;
  if (remA !== undefined && remP !== undefined) {
    const remR = u - remA - remP;
    if (remR < 0) return decision; // the counters do not fit this batch: confirm
    decision.presentSlots = remP;
    if (remR > 0) decision.refusal = reason();
    if (remR === 0 && remP === 0) all((leadId) => ({ kind: "added", leadId }));
    else if (remR === 0 && remA === 0) all((leadId) => ({ kind: "present", leadId }));
    else if (remR === 0) all((leadId) => ({ kind: "member", leadId }));
    else if (remA === 0 && remP === 0) all(() => ({ kind: "refused", reason: reason() }));
    return decision;
  }
  if (remA !== undefined && remA === u) all((leadId) => ({ kind: "added", leadId }));
  else if (remP !== undefined && remP === u) all((leadId) => ({ kind: "present", leadId }));
  return decision;
}
