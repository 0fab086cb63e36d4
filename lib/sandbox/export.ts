/**
 * The sandbox's views of a campaign's leads: the paged roster entries of
 * `GET /campaigns/{id}/leads` and the CSV of `GET /campaigns/{id}/leads-export`.
 *
 * What is known of the real export (../shared/smartlead-api.md, live and official): one CSV
 * for the whole campaign, with columns including `id` (the lead id), `campaign_lead_map_id`,
 * `status`, `email`, the standard fields and `custom_fields`. How `custom_fields` is written is
 * not documented: `json` (the default) writes it as one JSON object per cell; `columns` writes
 * one column per custom field instead, which a client must survive.
 */
import Papa from "papaparse";
import { type SandboxLead, type SandboxState, TEXT_FIELDS } from "./state.ts";

/** How the export writes custom fields. */
export type ExportCustomFields = "json" | "columns";

/** A lead as the API shows it: every field present, null when never set. */
export function leadJson(lead: SandboxLead): Record<string, unknown> {
  const out: Record<string, unknown> = { id: lead.id, email: lead.email };
  for (const field of TEXT_FIELDS) out[field] = lead[field] ?? null;
  out.custom_fields = { ...lead.custom_fields };
  out.created_at = lead.created_at;
  return out;
}

/**
 * Every roster entry of a campaign, in insertion order, followed by the entries
 * `state.rosterNulls` asks for (`lead: null`, then leads whose email is null).
 */
export function rosterEntries(state: SandboxState, campaignId: number): unknown[] {
  const campaign = state.campaigns.get(campaignId);
  if (!campaign) return [];
  const out: unknown[] = state.campaignLeads(campaignId).map((lead) => ({
    campaign_lead_map_id: campaign.mapIds.get(lead.id),
    lead_category_id: null,
    status: campaign.statuses.get(lead.id) ?? "STARTED",
    created_at: lead.created_at,
    lead: leadJson(lead),
  }));
  for (let i = 0; i < state.rosterNulls.lead; i++) {
    out.push({ campaign_lead_map_id: 1900000000 + i, status: "STARTED", lead: null });
  }
  for (let i = 0; i < state.rosterNulls.email; i++) {
    out.push({
      campaign_lead_map_id: 1910000000 + i,
      status: "STARTED",
      lead: { id: 3900000000 + i, email: null, custom_fields: {} },
    });
  }
  return out;
}

/** The campaign as CSV, one row per roster entry (null emails as empty cells). */
export function exportCsv(
  state: SandboxState,
  campaignId: number,
  customFields: ExportCustomFields,
): string {
  const entries = rosterEntries(state, campaignId) as Array<{
    campaign_lead_map_id: number;
    status: string;
    created_at?: string;
    lead: Record<string, unknown> | null;
  }>;
  const customKeys = new Set<string>();
  if (customFields === "columns") {
    for (const e of entries) {
      for (const k of Object.keys((e.lead?.custom_fields ?? {}) as object)) customKeys.add(k);
    }
  }
  const fields = [
    "id",
    "campaign_lead_map_id",
    "status",
    "created_at",
    "email",
    ...TEXT_FIELDS,
    ...(customFields === "json" ? ["custom_fields"] : [...customKeys]),
  ];
  const data = entries.map((e) => {
    const lead = e.lead ?? {};
    const custom = (lead.custom_fields ?? {}) as Record<string, string>;
    const row: unknown[] = [
      lead.id ?? "",
      e.campaign_lead_map_id,
      e.status,
      e.created_at ?? "",
      lead.email ?? "",
      ...TEXT_FIELDS.map((f) => lead[f] ?? ""),
    ];
    if (customFields === "json") row.push(JSON.stringify(custom));
    else for (const k of customKeys) row.push(custom[k] ?? "");
    return row;
  });
  return Papa.unparse({ fields, data }, { newline: "\r\n" }) + "\r\n";
}
