/**
 * Rebuilds index entries from the campaign itself, for runs without a disk that outlives
 * them (Airbyte deletes the container after each sync): every lead Smartlead has, with the
 * hash of the payload a record would need to be "unchanged", so that unchanged leads are
 * not sent again. The one place that reads the campaign for this; it pages the roster today
 * and is meant to switch to the one-request leads export.
 */
import type { SmartleadClient } from "../client/smartlead.ts";
import { payloadHash } from "../hash.ts";
import type { IndexStore } from "../index/store.ts";
import type { Row } from "../input/row.ts";
import { buildLead } from "../lead.ts";
import { planColumns } from "../mapping.ts";

/** The roster lead's fields, in the order a Row gives them to the mapper. */
const COLUMNS = [
  "email",
  "first_name",
  "last_name",
  "phone_number",
  "company_name",
  "website",
  "location",
  "linkedin_profile",
  "company_url",
  "custom_fields",
] as const;
const PLAN = planColumns(COLUMNS, [], false);

/**
 * The payload hash of a lead as Smartlead shows it: the same canonical lead `buildLead`
 * makes of a record with these values (trimmed, empty values left out, custom fields
 * sorted, the tags custom field as it is), hashed as `toStaged` hashes it.
 */
export function campaignLeadHash(lead: Record<string, unknown>): string | undefined {
  const row: Row = {
    source: "campaign",
    line: 0,
    columns: COLUMNS,
    values: COLUMNS.map((c) => lead[c]),
  };
  const built = buildLead(row, PLAN, []);
  return built.ok ? payloadHash(JSON.stringify(built.lead)) : undefined;
}

/**
 * Records every lead of the campaign in `store` as synced with its payload hash and lead
 * id, origin `foreign` (who added it is unknown). Returns how many were recorded.
 */
export async function rebuildFromCampaign(
  client: SmartleadClient,
  store: IndexStore,
  campaignId: number,
): Promise<number> {
  let n = 0;
  for await (const page of client.roster(campaignId)) {
    const outcomes = [];
    for (const entry of page) {
      const lead = entry.lead as Record<string, unknown>;
      const hash = campaignLeadHash(lead);
      if (hash === undefined) continue; // an email Smartlead has that no record could match
      outcomes.push({
        email: String(lead.email).trim().toLowerCase(),
        hash,
        status: "synced" as const,
        leadId: Number(entry.lead.id),
        origin: "foreign" as const,
      });
    }
    store.record(outcomes);
    n += outcomes.length;
  }
  return n;
}
