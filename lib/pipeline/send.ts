/**
 * Stage: planned batches → Smartlead, and each answer → the index. A lead is recorded as
 * synced only after a 2xx for its batch; leads Smartlead names as refused go to the rejects
 * file; a 400/422 for a batch is narrowed down by halving until the refused lead is found.
 */
import {
  type AddLeadsSettings,
  type LeadPayload,
  type SmartleadClient,
  SmartleadRequestError,
} from "../client/smartlead.ts";
import { emailsIn, numericCounters } from "../client/schemas.ts";
import { CreditsExhaustedError, UnavailableError } from "../errors.ts";
import type { IndexStore, LeadOrigin, LeadStatus, StagedLead } from "../index/store.ts";
import { normalizeEmail } from "../lead.ts";
import type { RejectsWriter } from "./rejects.ts";
import { runPool } from "./pool.ts";
import type { RunStats } from "./stats.ts";
import { plural } from "../plural.ts";

interface Outcome {
  email: string;
  hash: string;
  status: LeadStatus;
  leadId?: number | null;
  reason?: string | null;
  origin: LeadOrigin;
}

/** The origin the index gives a lead it knew before this run (new leads: this tool's). */
const originOf = (lead: StagedLead): LeadOrigin => lead.origin ?? "tool";

export interface SenderOptions {
  client: SmartleadClient;
  store: IndexStore;
  campaignId: number;
  settings: AddLeadsSettings;
  stats: RunStats;
  rejects: RejectsWriter;
  verbose?: boolean;
  /** Requests in flight at once (the rate limiter still spaces their starts). */
  concurrency?: number;
  /** Told after each update, each delete and each roster page, for a progress display. */
  onProgress?: (phase: "updating" | "deleting" | "roster") => void;
}

function idMap(m: Record<string, string | number> | null | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of Object.entries(m ?? {})) {
    const n = Number(v);
    if (Number.isFinite(n)) out.set(normalizeEmail(k), n);
  }
  return out;
}

export class Sender {
  #o: SenderOptions;
  #roster: Promise<number> | undefined;

  constructor(opts: SenderOptions) {
    this.#o = opts;
  }

  /**
   * Sends add batches, up to `concurrency` at a time, each recorded on its own 2xx.
   * Throws on credit exhaustion or when Smartlead stays down (after in-flight batches end).
   */
  async adds(batches: Iterable<StagedLead[]>): Promise<void> {
    try {
      await runPool(batches, this.#o.concurrency ?? 1, (batch) => this.#addBatch(batch));
    } catch (e) {
      if (!(e instanceof CreditsExhaustedError)) throw e;
      // Said once every batch in flight has ended, so the counts are final.
      throw new CreditsExhaustedError(
        `Smartlead's lead credit limit is reached: ${
          plural(this.#o.stats.added, "new lead")
        } went in this run, ` +
          `${this.#o.stats.failed} ${this.#o.stats.failed === 1 ? "was" : "were"} not imported`,
        e.hint,
      );
    }
  }

  async #addBatch(batch: StagedLead[]): Promise<void> {
    const { client, store, campaignId, settings, stats } = this.#o;
    const payloads = batch.map((b) => JSON.parse(b.payload) as LeadPayload);
    let resp: Awaited<ReturnType<SmartleadClient["addLeads"]>>;
    const attempt = { resent: false };
    try {
      resp = await client.addLeads(
        campaignId,
        payloads,
        { ...settings, return_lead_ids: true },
        attempt,
      );
    } catch (e) {
      if (e instanceof SmartleadRequestError && [400, 413, 422].includes(e.status)) {
        if (batch.length > 1) {
          const mid = Math.ceil(batch.length / 2);
          await this.#addBatch(batch.slice(0, mid));
          await this.#addBatch(batch.slice(mid));
          return;
        }
        await this.#refuse(batch[0]!, `Smartlead refused it: ${e.message.replace(/^.*?: /, "")}`);
        return;
      }
      // Anything else: the batch may or may not have been applied; it is sent again.
      this.#pending(batch);
      throw e;
    }
    const counters = numericCounters(resp);
    stats.addCounters(counters);
    if (this.#o.verbose) stats.batches.push(counters);
    const byId = resp.emailToLeadIdMap;
    const fresh = idMap(byId?.newlyAddedLeads);
    const existing = idMap(byId?.existingLeads);
    const other = idMap(byId?.existingLeadsInOtherCampaigns);
    const invalid = new Set(emailsIn(resp.invalid_emails).map(normalizeEmail));
    const unsubscribed = new Set(emailsIn(resp.unsubscribed_leads).map(normalizeEmail));
    const haveMap = byId !== undefined && byId !== null;
    let applied = batch;
    let stopped: StagedLead[] = [];
    if (resp.ok === false) {
      if (resp.is_lead_limit_exhausted) {
        const n = Math.min(
          batch.length,
          Math.max(0, resp.lead_import_stopped_count ?? batch.length),
        );
        applied = batch.slice(0, batch.length - n);
        stopped = batch.slice(batch.length - n);
      } else {
        this.#pending(batch);
        throw new UnavailableError(
          `Smartlead did not accept a batch: ${resp.error ?? "ok: false without a reason"}`,
          "run again later; the batch is sent again",
        );
      }
    }
    const outcomes: Outcome[] = [];
    const refused: Array<[StagedLead, string]> = [];
    const present: StagedLead[] = [];
    for (const lead of applied) {
      const e = lead.email;
      if (invalid.has(e)) refused.push([lead, "Smartlead: invalid email"]);
      else if (unsubscribed.has(e)) refused.push([lead, "Smartlead: unsubscribed"]);
      else if (other.has(e) && settings.ignore_duplicate_leads_in_other_campaign) {
        refused.push([lead, "Smartlead: skipped, the lead is in another campaign"]);
      } else if (haveMap && !fresh.has(e) && !existing.has(e) && !other.has(e)) {
        refused.push([lead, "Smartlead did not add it (block list or bounce list)"]);
      } else present.push(lead);
    }
    // "Already in the campaign" means: updated when the index had the lead synced; added by
    // this tool when an earlier attempt may have applied the batch (this request was resent,
    // or an earlier run's batch was never confirmed); someone else's lead otherwise.
    const ours = (lead: StagedLead) =>
      attempt.resent || (lead.indexed === "pending" && originOf(lead) === "tool");
    // Without the id map only the counter says how many were already there, not which:
    // those beyond the synced ones are counted as updated, and every lead the index did not
    // have is kept as someone else's (so that --delete-missing leaves it alone).
    const syncedBefore = present.filter((l) => l.indexed === "synced").length;
    let othersLeft = haveMap
      ? 0
      : Math.max(0, (counters.already_added_to_campaign ?? 0) - syncedBefore);
    const unsure = othersLeft > 0;
    for (const lead of present) {
      const e = lead.email;
      const leadId = fresh.get(e) ?? existing.get(e) ?? other.get(e) ?? lead.leadId ?? null;
      let origin: LeadOrigin = "tool";
      let updated = false;
      if (lead.indexed === "synced" && (!haveMap || existing.has(e))) {
        [origin, updated] = [originOf(lead), true];
      } else if (haveMap ? !existing.has(e) : !unsure) {
        // Joined the campaign with this request.
      } else if (ours(lead)) {
        // Added by an earlier attempt whose answer was lost.
      } else if (haveMap) [origin, updated] = ["foreign", true];
      else {
        origin = "foreign";
        updated = othersLeft > 0;
        if (updated) othersLeft--;
      }
      outcomes.push({ email: e, hash: lead.hash, status: "synced", leadId, origin });
      if (updated) stats.updated++;
      else stats.added++;
    }
    for (const [lead, reason] of refused) {
      outcomes.push({
        email: lead.email,
        hash: lead.hash,
        status: "rejected",
        reason,
        origin: originOf(lead),
      });
    }
    store.record(outcomes);
    stats.sent += applied.length;
    for (const [lead, reason] of refused) {
      stats.rejectedBySmartlead++;
      await this.#o.rejects.write({
        source: lead.source,
        line: lead.line,
        reason,
        row: JSON.parse(lead.payload),
      });
    }
    if (stopped.length > 0) {
      this.#pending(stopped);
      throw new CreditsExhaustedError(
        "Smartlead's lead credit limit is reached",
        "add lead credits, then run the same command again: it continues where this run stopped",
      );
    }
  }

  #pending(batch: readonly StagedLead[]): void {
    this.#o.stats.failed += batch.length;
    this.#o.store.record(
      batch.map((b) => ({
        email: b.email,
        hash: b.hash,
        status: "pending" as const,
        leadId: b.leadId,
        origin: originOf(b),
      })),
    );
  }

  async #refuse(lead: StagedLead, reason: string): Promise<void> {
    this.#o.stats.rejectedBySmartlead++;
    this.#o.store.record([
      { email: lead.email, hash: lead.hash, status: "rejected", reason, origin: originOf(lead) },
    ]);
    await this.#o.rejects.write({
      source: lead.source,
      line: lead.line,
      reason,
      row: JSON.parse(lead.payload),
    });
  }

  /** Fills lead ids from the campaign roster (once per run, shared by concurrent callers). */
  loadRoster(): Promise<number> {
    this.#roster ??= (async () => {
      let n = 0;
      const { stats, onProgress } = this.#o;
      const pages = this.#o.client.roster(this.#o.campaignId, (read, total) => {
        [stats.rosterRead, stats.rosterTotal] = [read, total];
        onProgress?.("roster");
      });
      for await (const page of pages) {
        n += this.#o.store.setLeadIds(page.map((e) => [normalizeEmail(e.lead.email), e.lead.id]));
      }
      return n;
    })();
    return this.#roster;
  }

  /**
   * Updates changed leads through `POST /campaigns/{cid}/leads/{id}`. Leads whose id is
   * unknown get it from the roster; leads no longer in the campaign are added again.
   */
  async updates(batches: Iterable<StagedLead[]>): Promise<void> {
    const readd: StagedLead[] = [];
    const leads = (function* () {
      for (const batch of batches) yield* batch;
    })();
    await runPool(leads, this.#o.concurrency ?? 1, async (lead) => {
      const again = await this.#update(lead);
      if (again) readd.push(again);
      this.#o.stats.updatesDone++;
      this.#o.onProgress?.("updating");
    });
    for (let i = 0; i < readd.length; i += 100) await this.#addBatch(readd.slice(i, i + 100));
  }

  /** One update; returns the lead when it has to be added again instead. */
  async #update(lead: StagedLead): Promise<StagedLead | undefined> {
    const { client, store, campaignId, stats } = this.#o;
    let leadId = lead.leadId;
    if (leadId === null) {
      await this.loadRoster();
      leadId = store.lookup(lead.email)?.lead_id ?? null;
    }
    if (leadId === null) return lead;
    try {
      await client.updateLead(campaignId, leadId, JSON.parse(lead.payload) as LeadPayload);
    } catch (e) {
      if (e instanceof SmartleadRequestError && e.status === 404) return { ...lead, leadId: null };
      if (e instanceof SmartleadRequestError && [400, 422].includes(e.status)) {
        await this.#refuse(
          lead,
          `Smartlead refused the update: ${e.message.replace(/^.*?: /, "")}`,
        );
        return undefined;
      }
      this.#pending([lead]);
      throw e;
    }
    store.record([
      { email: lead.email, hash: lead.hash, status: "synced", leadId, origin: originOf(lead) },
    ]);
    stats.updated++;
    stats.sent++;
    return undefined;
  }

  /** Deletes leads from the campaign and forgets them. */
  async deletes(leads: ReadonlyArray<{ email: string; lead_id: number | null }>): Promise<void> {
    const { client, store, campaignId, stats } = this.#o;
    for (const lead of leads) {
      let leadId = lead.lead_id;
      if (leadId === null) {
        await this.loadRoster();
        leadId = store.lookup(lead.email)?.lead_id ?? null;
      }
      if (leadId !== null) {
        try {
          await client.deleteLead(campaignId, leadId);
        } catch (e) {
          if (!(e instanceof SmartleadRequestError && e.status === 404)) throw e;
        }
      }
      store.forget([lead.email]);
      stats.deleted++;
      this.#o.onProgress?.("deleting");
    }
  }
}
