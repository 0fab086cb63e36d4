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
  /** Leads absent from the input that this tool did not add, left alone (no --delete-foreign). */
  keptForeign = 0;
  /** The leads a dry run (or a run stopped by the deletion limit) would delete. */
  wouldDelete: string[] | undefined = undefined;
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
