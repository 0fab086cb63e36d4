/**
 * Confirming leads from the campaign itself, when Smartlead's answer did not say what it did
 * (an add-leads 2xx without counters, counters that do not fit the batch, an ambiguous 404):
 * `GET /leads/?email=` for a few leads, one pass over the campaign roster for more.
 */
import type { SmartleadClient } from "../client/smartlead.ts";
import { normalizeEmail } from "../lead.ts";

/** Up to this many leads are looked up one by one; more read the roster once. */
export const LOOKUP_MAX = 20;

/** Whether a lead is in the campaign, and its id there. */
export type Membership = { member: true; leadId: number } | { member: false };

/**
 * Membership in `campaignId` of each (normalised) email. One lookup per email for a few
 * (an answer that does not list the lead's campaigns sends them all to the roster); the
 * roster, 100 per request, for more.
 */
export async function membership(
  client: SmartleadClient,
  campaignId: number,
  emails: readonly string[],
): Promise<Map<string, Membership>> {
  const out = new Map<string, Membership>();
  if (emails.length === 0) return out;
  if (emails.length <= LOOKUP_MAX) {
    let complete = true;
    for (const email of emails) {
      const found = await client.findLead(email);
      if (found === null) out.set(email, { member: false });
      else if (found.campaigns === undefined) {
        complete = false;
        break;
      } else {
        out.set(
          email,
          found.campaigns.includes(campaignId)
            ? { member: true, leadId: found.id }
            : { member: false },
        );
      }
    }
    if (complete) return out;
    out.clear();
  }
  const wanted = new Set(emails);
  for await (const page of client.roster(campaignId)) {
    for (const entry of page) {
      const email = normalizeEmail(entry.lead.email);
      if (wanted.has(email)) out.set(email, { member: true, leadId: entry.lead.id });
    }
  }
  for (const email of emails) if (!out.has(email)) out.set(email, { member: false });
  return out;
}
