import type { PlanCost } from "./estimate.ts";

/** Counters a run accumulates; every stage adds to its own. */
export class RunStats {
  rows = 0;
  valid = 0;
  rejected = 0;
  duplicatesInInput = 0;
  added = 0;
  updated = 0;
  unchanged = 0;
  skippedRejected = 0;
  deleted = 0;
  failed = 0;
  rejectedBySmartlead = 0;
  sent = 0;
  /** Lead ids Smartlead no longer knew (leads deleted in its UI): re-added or already gone. */
  staleIds = 0;
  /** Leads whose outcome was read from the campaign because the answer did not say. */
  confirmed = 0;
  /** Leads the update phase dealt with (updated, refused, or to be added again). */
  updatesDone = 0;
  /** Roster leads read so far, and the campaign's size when Smartlead said it. */
  rosterRead = 0;
  rosterTotal: number | undefined = undefined;
  plannedAdds = 0;
  plannedUpdates = 0;
  plannedDeletes = 0;
  /** The plan was made (every distinct valid lead has an action). */
  planned = false;
  /** The plan's requests and time (set with the plan). */
  cost: PlanCost | undefined = undefined;
  /** Leads absent from the input that this tool did not add, left alone (no --delete-foreign). */
  keptForeign = 0;
  /** The leads a dry run (or a run stopped by the deletion limit) would delete. */
  wouldDelete: string[] | undefined = undefined;
  /** What `--missing` does to absent leads. */
  missing: "ignore" | "pause" | "unsubscribe" | "delete" = "ignore";
  /** Leads paused, unsubscribed and resumed by this run. */
  paused = 0;
  unsubscribed = 0;
  resumed = 0;
  /** Leads a pause, unsubscribe or resume found gone from the campaign (forgotten). */
  alreadyGone = 0;
  /** Pauses, unsubscribes and resumes Smartlead refused (tried again next run). */
  notRemoved = 0;
  /** Planned by `--missing` (any action, deletes included), and resumes planned. */
  plannedRemoves = 0;
  plannedResumes = 0;
  /** The leads a dry run (or a run stopped by the removal limit) would pause, unsubscribe or delete. */
  wouldRemove: string[] | undefined = undefined;
  /** Leads this tool unsubscribed that are in the input again (they stay unsubscribed). */
  stillUnsubscribed = 0;
  /** Every numeric counter of the add-leads answers, summed. */
  smartlead: Record<string, number> = {};
  /** Per-batch counters, kept for `--verbose`. */
  batches: Array<Record<string, number>> = [];
  bytesRead = 0;
  bytesTotal: number | undefined = undefined;

  addCounters(counters: Record<string, number>): void {
    for (const [k, v] of Object.entries(counters)) this.smartlead[k] = (this.smartlead[k] ?? 0) + v;
  }
}
