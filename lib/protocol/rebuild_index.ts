/**
 * Rebuilds index entries from the campaign itself, for runs without a disk that outlives
 * them (Airbyte deletes the container after each sync): every lead Smartlead has, with the
 * hash of the payload a record would need to be "unchanged", so that unchanged leads are
 * not sent again. The one place that reads the campaign for this.
 */
import { readRoster, type RosterInfo } from "../client/roster.ts";
import type { SmartleadClient } from "../client/smartlead.ts";
import { payloadHash } from "../hash.ts";
import type { IndexStore } from "../index/store.ts";
import type { Row } from "../input/row.ts";
import { buildLead } from "../lead.ts";
import { LEAD_FIELDS, planColumns } from "../mapping.ts";

/** The roster lead's fields, in the order a Row gives them to the mapper. */
const COLUMNS = [...LEAD_FIELDS, "custom_fields"] as const;
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
 * id, origin `foreign` (who added it is unknown). The campaign is read as `verify` reads it
 * (`lib/client/roster.ts`: its export in one request, else page by page). Returns how many
 * were recorded.
 */
export async function rebuildFromCampaign(
  client: SmartleadClient,
  store: IndexStore,
  campaignId: number,
  opts: { log?: (line: string) => void; signal?: AbortSignal } = {},
): Promise<number> {
  let n = 0;
  const info: RosterInfo = { source: "export", skipped: 0, unreadable: 0 };
  const restart = () => void (n = 0); // a partly read export: pages count again
  for await (const batch of readRoster(client, campaignId, info, { ...opts, onRestart: restart })) {
    const outcomes = [];
    for (const lead of batch) {
      // An email Smartlead has that no record could match is left out.
      if (lead.hash === null) continue;
      outcomes.push({
        email: lead.email,
        hash: lead.hash,
        status: "synced" as const,
        leadId: lead.leadId,
        origin: "foreign" as const,
      });
    }
    // Recording is an upsert: a partly read export that falls back to pages records again.
    store.record(outcomes);
    n += outcomes.length;
  }
  return n;
}
