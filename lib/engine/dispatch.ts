/**
 * Sending planned batches with a bounded number in flight: the engine starts a job when a
 * slot is free and waits for one otherwise (backpressure: reading pauses while the sender
 * is behind). Each job goes through the `Sender`'s public methods, which record every
 * answer in the index after its 2xx (one transaction per batch); the engine hears of it
 * through `IndexStore.onRecorded` and, when the job is over, through `onSettled`.
 *
 * After the first failure no job starts; those in flight finish (and are recorded), then
 * the engine throws it.
 *
 * Resends. A lead whose earlier version Smartlead already answered in this run (a later
 * duplicate row changed it, see "Duplicates" in DEVELOPERS.md) is sent on its own, with a
 * sender counting into scratch stats, so that the summary counts each lead once:
 *   - earlier version refused: that refusal is taken back, the resend's outcome counts;
 *   - earlier version synced (added or updated): it stays counted as such, whatever the
 *     resend's answer (a refusal is still written to the rejects file; a failure leaves the
 *     lead pending in the index, sent again next run).
 */
import type { StagedLead } from "../index/store.ts";
import type { LeadStatus } from "../index/store.ts";
import { RunStats } from "../pipeline/stats.ts";
import type { ActionKind } from "./planner.ts";

/** What the engine needs of a sender (`Sender` is one). */
export interface SenderLike {
  adds(batches: Iterable<StagedLead[]>): Promise<void>;
  updates(batches: Iterable<StagedLead[]>): Promise<void>;
}

/** One unit of sending: a batch of adds, or updates (one request per lead). */
export interface SendJob {
  kind: ActionKind;
  leads: Array<StagedLead & { resend?: boolean }>;
  /** Called once the job is over, before `onSettled` (the planner's `settled`). */
  done?: () => void;
}

export interface DispatchOptions {
  sender: SenderLike;
  /** A sender counting into `stats` (resends); without it resends go through `sender`. */
  resender?: (stats: RunStats) => SenderLike;
  stats: RunStats;
  concurrency: number;
  /** Fills `leadId`, `indexed` and `origin` of a planner job's leads before it is sent. */
  prepare?: (job: SendJob) => void;
  /** After each job (success or failure). */
  onSettled: () => void;
}

export class Dispatcher {
  #o: DispatchOptions;
  #inflight = new Set<Promise<void>>();
  #failure: { error: unknown } | undefined;

  constructor(opts: DispatchOptions) {
    this.#o = opts;
  }

  /** Jobs started and not yet over. */
  get inFlight(): number {
    return this.#inflight.size;
  }

  /** Whether a slot is free. */
  get free(): boolean {
    return this.#inflight.size < Math.max(1, this.#o.concurrency);
  }

  /** The first failure, once there is one. */
  get failure(): { error: unknown } | undefined {
    return this.#failure;
  }

  /** Starts a job (the caller checked `free`). */
  start(job: SendJob): void {
    const p: Promise<void> = this.#run(job).finally(() => {
      this.#inflight.delete(p);
      try {
        this.#o.onSettled();
      } catch (e) {
        // A front end's checkpoint callback that fails stops the run like a failed batch.
        this.#failure ??= { error: e };
      }
    });
    this.#inflight.add(p);
  }

  /** Resolves when some job in flight is over (at once when none is). */
  async slot(): Promise<void> {
    if (this.#inflight.size > 0) await Promise.race(this.#inflight);
  }

  /** Resolves when every job in flight is over. */
  async idle(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.all(this.#inflight);
  }

  async #run(job: SendJob): Promise<void> {
    try {
      this.#o.prepare?.(job);
      const first = job.leads.filter((l) => !l.resend);
      if (first.length > 0) await this.#send(this.#o.sender, job.kind, first);
      for (const lead of job.leads) if (lead.resend) await this.#resend(job.kind, lead);
    } catch (e) {
      this.#failure ??= { error: e };
    } finally {
      job.done?.();
    }
  }

  #send(sender: SenderLike, kind: ActionKind, leads: StagedLead[]): Promise<void> {
    return kind === "add" ? sender.adds([leads]) : sender.updates([leads]);
  }

  /** A lead sent again in this run, counted once (see the module comment). */
  async #resend(kind: ActionKind, lead: StagedLead): Promise<void> {
    const { stats, resender } = this.#o;
    if (resender === undefined) return this.#send(this.#o.sender, kind, [lead]);
    const prior: LeadStatus | null | undefined = lead.indexed;
    const d = new RunStats();
    let error: { error: unknown } | undefined;
    try {
      await this.#send(resender(d), kind, [lead]);
    } catch (e) {
      error = { error: e };
    }
    stats.sent += d.sent;
    stats.addCounters(d.smartlead);
    stats.batches.push(...d.batches);
    stats.staleIds += d.staleIds;
    stats.confirmed += d.confirmed;
    stats.updatesDone += d.updatesDone;
    if (prior === "rejected" && stats.rejectedBySmartlead > 0) stats.rejectedBySmartlead--;
    if (prior !== "synced") {
      stats.added += d.added;
      stats.updated += d.updated;
      stats.rejectedBySmartlead += d.rejectedBySmartlead;
      stats.failed += d.failed;
    }
    if (error) throw error.error;
  }
}
