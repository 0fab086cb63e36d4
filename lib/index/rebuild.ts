/**
 * The index against the campaign: what differs (for `verify`), and the index entries rebuilt
 * from the campaign (for `verify --repair`, and for a front end that starts each sync from
 * what Smartlead holds, such as an Airbyte destination without a persistent index).
 *
 * Field values are compared through hashes: the lead rebuilt from Smartlead's fields (the
 * nine standard fields and the custom fields, trimmed, empty values left out) hashed as
 * `lib/pipeline/stage.ts` hashes a row, against the hash of the payload Smartlead last
 * accepted from this tool. What this can and cannot see is in the README ("verify").
 */
import { readRoster, type RosterInfo, type RosterLead } from "../client/roster.ts";
import type { SmartleadClient } from "../client/smartlead.ts";
import { allowed, type Limit } from "../pipeline/guard_rails.ts";
import type { IndexStore, LeadOrigin } from "./store.ts";

/** The differences between the campaign and the index. */
export interface CampaignComparison {
  /** How the campaign was read: `export` (one request) or `pages` (the fallback). */
  source: "export" | "pages";
  /** Why the export was not used. */
  export_fallback: string | null;
  /** Roster entries without a lead, an email or an id, skipped. */
  skipped_entries: number;
  in_smartlead: number;
  in_index: number;
  missing_from_index: string[];
  missing_from_smartlead: string[];
  lead_id_mismatches: Array<{ email: string; index: number | null; smartlead: number }>;
  /** Leads in both whose data in Smartlead is not what the index says was last accepted. */
  field_drift: string[];
  /** Leads in both whose values were compared. */
  fields_compared: number;
  /** Leads in both whose values were not: unknown in the index, or unreadable in Smartlead. */
  fields_not_compared: number;
  /** Why values could not be read for the whole campaign, when so. */
  fields_note: string | null;
  /** Leads this tool paused that Smartlead no longer shows as paused (resumed by hand). */
  status_mismatches: Array<{ email: string; index: "paused"; smartlead: string | null }>;
  /** Synced leads in the index that this tool did not add. */
  foreign: number;
}

/** The hash of a lead whose data the index does not know: any payload differs from it. */
export const UNKNOWN_HASH = "?";

/** The default limit on drift `repair` marks for update: half the compared leads, at least 20. */
export function driftAllowed(compared: number, limit: Limit | undefined): number {
  return limit === undefined
    ? Math.max(20, allowed({ percent: 50 }, compared))
    : allowed(limit, compared);
}

export interface CompareOptions {
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** Told the leads read so far (for a progress line). */
  progress?: (read: number, total: number | undefined) => void;
}

/** Reads the campaign (export first) and compares it with the index. */
export async function compareWithCampaign(
  client: SmartleadClient,
  store: IndexStore,
  campaignId: number,
  opts: CompareOptions = {},
): Promise<{ report: CampaignComparison; remote: Map<string, RosterLead> }> {
  const remote = new Map<string, RosterLead>();
  const info: RosterInfo = { source: "export", skipped: 0, unreadable: 0 };
  for await (
    const batch of readRoster(client, campaignId, info, {
      onRestart: () => remote.clear(),
      ...(opts.log ? { log: opts.log } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.progress ? { progress: opts.progress } : {}),
    })
  ) {
    for (const lead of batch) remote.set(lead.email, lead);
  }
  const report: CampaignComparison = {
    source: info.source,
    export_fallback: info.fallback ?? null,
    skipped_entries: info.skipped,
    in_smartlead: remote.size,
    in_index: 0,
    missing_from_index: [],
    missing_from_smartlead: [],
    lead_id_mismatches: [],
    field_drift: [],
    fields_compared: 0,
    fields_not_compared: 0,
    fields_note: info.fieldsNote ?? null,
    status_mismatches: [],
    foreign: 0,
  };
  const seen = new Set<string>();
  for (const lead of store.all()) {
    if (lead.status !== "synced") continue;
    report.in_index++;
    if (lead.origin === "foreign") report.foreign++;
    seen.add(lead.email);
    const there = remote.get(lead.email);
    if (there === undefined) {
      report.missing_from_smartlead.push(lead.email);
      continue;
    }
    if (lead.lead_id !== null && Number(lead.lead_id) !== there.leadId) {
      report.lead_id_mismatches.push({
        email: lead.email,
        index: Number(lead.lead_id),
        smartlead: there.leadId,
      });
    }
    if (there.hash === null || lead.hash === UNKNOWN_HASH) report.fields_not_compared++;
    else {
      report.fields_compared++;
      if (there.hash !== lead.hash) report.field_drift.push(lead.email);
    }
    if (lead.removed === "paused" && there.status !== null && there.status !== "PAUSED") {
      report.status_mismatches.push({
        email: lead.email,
        index: "paused",
        smartlead: there.status,
      });
    }
  }
  for (const email of remote.keys()) {
    if (!seen.has(email)) report.missing_from_index.push(email);
  }
  return { report, remote };
}

/** Whether the comparison found nothing to repair. */
export function agrees(r: CampaignComparison): boolean {
  return r.missing_from_index.length === 0 && r.missing_from_smartlead.length === 0 &&
    r.lead_id_mismatches.length === 0 && r.field_drift.length === 0 &&
    r.status_mismatches.length === 0;
}

export interface RepairOptions {
  /** Origin of leads the index did not have (default `foreign`: removals leave them alone). */
  origin?: LeadOrigin;
  /** The most drifted leads marked for update (default: `driftAllowed`). */
  maxDrift?: Limit;
}

/** What a repair did. */
export interface RepairResult {
  /** Synced leads in the repaired index that this tool did not add. */
  foreign: number;
  /** Drifted leads marked for update on the next push. */
  drift_marked: number;
  /** Set when drift was over the limit and not marked. */
  drift_note: string | null;
}

/**
 * Makes the index agree with the campaign: leads only Smartlead has are recorded synced with
 * the hash of Smartlead's data (`?` when unreadable: the next push updates them) and the
 * given origin (a lead the index knew keeps its own); leads Smartlead lost are forgotten
 * (the next push adds them again); lead ids are Smartlead's; drifted leads get Smartlead's
 * hash, so the next push updates those whose input differs (unless the drift is over the
 * limit: then Smartlead probably reports fields differently, and nothing is marked); paused
 * leads resumed by hand are no longer recorded as paused by this tool.
 */
export function repairIndex(
  store: IndexStore,
  comparison: CampaignComparison,
  remote: ReadonlyMap<string, RosterLead>,
  opts: RepairOptions = {},
): RepairResult {
  const outcomes = comparison.missing_from_index.map((email) => {
    const there = remote.get(email)!;
    const known = store.lookup(email);
    return {
      email,
      hash: there.hash ?? UNKNOWN_HASH,
      status: "synced" as const,
      leadId: there.leadId,
      origin: known?.origin ?? opts.origin ?? "foreign",
    };
  });
  store.record(outcomes);
  store.forget(comparison.missing_from_smartlead);
  store.setLeadIds([...remote.values()].map((l) => [l.email, l.leadId]));
  store.setRemoved(comparison.status_mismatches.map((m) => m.email), null);
  let foreign = 0;
  for (const lead of store.all()) {
    if (lead.status === "synced" && lead.origin === "foreign") foreign++;
  }
  const drift = comparison.field_drift.length;
  const max = driftAllowed(comparison.fields_compared, opts.maxDrift);
  if (drift > max) {
    return {
      foreign,
      drift_marked: 0,
      drift_note: `${drift} of ${comparison.fields_compared} compared leads differ, more than ` +
        `the ${max} allowed: Smartlead probably reports some fields differently from what was ` +
        `sent; not marked for update`,
    };
  }
  store.setHashes(comparison.field_drift.map((email) => [email, remote.get(email)!.hash!]));
  return { foreign, drift_marked: drift, drift_note: null };
}

/**
 * Rebuilds the index entries from the campaign (email → lead id, hash of Smartlead's data)
 * and returns what differed: what a front end calls at the start of each sync, before
 * `push`. Equivalent to `verify --repair`.
 *
 * @example
 * ```ts
 * const store = new IndexStore("campaign-1.db");
 * const { report } = await rebuildIndexFromCampaign(client, store, 1);
 * store.close();
 * ```
 */
export async function rebuildIndexFromCampaign(
  client: SmartleadClient,
  store: IndexStore,
  campaignId: number,
  opts: RepairOptions & CompareOptions = {},
): Promise<{ report: CampaignComparison; repair: RepairResult }> {
  const { report, remote } = await compareWithCampaign(client, store, campaignId, opts);
  return { report, repair: repairIndex(store, report, remote, opts) };
}
