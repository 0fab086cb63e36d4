/**
 * Stage: leads absent from the input → paused or unsubscribed in the campaign (`--missing
 * pause|unsubscribe`; deletes stay in `send.ts`), and leads this tool paused that are back
 * in the input → resumed (a re-add alone does not resume a paused lead). The index records
 * which leads this tool paused or unsubscribed, so that it resumes only its own.
 *
 * A stale lead id (the lead was removed in Smartlead's UI) never fails the run: the answer is
 * confirmed with `GET /leads/?email=`; a lead that is a member under another id is acted on
 * with that id; a lead that is not a member is forgotten by the index ("already gone"), and
 * one that was to be resumed is added again in this run.
 */
import {
  isStaleLeadIdError,
  type LeadAction,
  type SmartleadClient,
  SmartleadRequestError,
} from "../client/smartlead.ts";
import type { IndexedLead, IndexStore } from "../index/store.ts";
import { runPool } from "./pool.ts";
import type { RunStats } from "./stats.ts";

export interface RemoverOptions {
  client: SmartleadClient;
  store: IndexStore;
  campaignId: number;
  stats: RunStats;
  /** Fills unknown lead ids from the campaign (the sender's, read once per run). */
  loadRoster: () => Promise<number>;
  concurrency?: number;
  log?: (line: string) => void;
}

/** What became of one lead. */
type Outcome = { done: true; leadId: number } | { done: false; why: "gone" | "refused" };

export class Remover {
  #o: RemoverOptions;

  constructor(opts: RemoverOptions) {
    this.#o = opts;
  }

  /** Pauses or unsubscribes leads absent from the input, and records it in the index. */
  async remove(leads: Iterable<IndexedLead>, action: "pause" | "unsubscribe"): Promise<void> {
    const { store, stats } = this.#o;
    await runPool(leads, this.#o.concurrency ?? 1, async (lead) => {
      const outcome = await this.#act(lead, action);
      if (outcome.done) {
        store.setRemoved([lead.email], action === "pause" ? "paused" : "unsubscribed");
        if (action === "pause") stats.paused++;
        else stats.unsubscribed++;
      } else if (outcome.why === "gone") {
        store.forget([lead.email]);
        stats.alreadyGone++;
      } else stats.notRemoved++;
    });
  }

  /**
   * Resumes leads this tool paused that are in the input again. Those found gone from the
   * campaign are planned as adds instead (the caller's add phase then sends them).
   */
  async resume(leads: Iterable<IndexedLead>): Promise<void> {
    const { store, stats } = this.#o;
    const gone: string[] = [];
    await runPool(leads, this.#o.concurrency ?? 1, async (lead) => {
      const outcome = await this.#act(lead, "resume");
      if (outcome.done) {
        store.setRemoved([lead.email], null);
        stats.resumed++;
      } else if (outcome.why === "gone") {
        gone.push(lead.email);
        stats.alreadyGone++;
      } else stats.notRemoved++;
    });
    const before = store.replanAsAdd(gone);
    for (const [action, n] of Object.entries(before)) {
      if (action === "unchanged") stats.unchanged -= n;
      else if (action === "update") stats.plannedUpdates -= n;
      else if (action === "skip_rejected") stats.skippedRejected -= n;
      if (action !== "add") stats.plannedAdds += n;
    }
  }

  /** One action on one lead, its id resolved (and confirmed when Smartlead says it is stale). */
  async #act(lead: IndexedLead, action: LeadAction): Promise<Outcome> {
    const { client, store, campaignId } = this.#o;
    let leadId = lead.lead_id === null ? null : Number(lead.lead_id);
    if (leadId === null) {
      await this.#o.loadRoster();
      const known = store.lookup(lead.email)?.lead_id;
      leadId = known === null || known === undefined ? null : Number(known);
    }
    for (let attempt = 0; leadId !== null && attempt < 2; attempt++) {
      try {
        await client.leadAction(campaignId, leadId, action);
        if (leadId !== lead.lead_id) store.setLeadIds([[lead.email, leadId]]);
        return { done: true, leadId };
      } catch (e) {
        if (!isStaleLeadIdError(e)) {
          if (e instanceof SmartleadRequestError && e.status < 500) {
            this.#o.log?.(`warning: could not ${action} ${lead.email}: ${e.message}`);
            return { done: false, why: "refused" };
          }
          throw e;
        }
      }
      // Smartlead says the id is not in the campaign: ask who the email is now.
      const found = await client.leadByEmail(lead.email);
      if (found === null || !found.campaignIds.includes(campaignId)) break;
      if (found.id === leadId) {
        this.#o.log?.(
          `warning: could not ${action} ${lead.email}: Smartlead refuses its id ${leadId} ` +
            "but lists it in the campaign; it is tried again next run",
        );
        return { done: false, why: "refused" };
      }
      leadId = found.id;
    }
    return { done: false, why: "gone" };
  }
}
