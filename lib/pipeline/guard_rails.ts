/**
 * Guard rails: checks between planning and the first write that stop a run whose input or
 * plan looks like a mistake (an empty or unreadable export, a mirror that would delete, pause
 * or unsubscribe much of the campaign). Each says what it saw and how to allow it.
 */
import { ExitCode, SyncError, UsageError } from "../errors.ts";
import { plural } from "../plural.ts";

/** A bound given as a count (`N`) or as a share of a whole (`P%`). */
export type Limit = { count: number } | { percent: number };

/** Parses `N` or `P%` (P from 0 to 100, decimals allowed); a usage error names the flag. */
export function parseLimit(flag: string, value: string | number): Limit {
  const text = String(value).trim();
  const pct = /^(\d+(?:\.\d+)?)\s*%$/.exec(text);
  if (pct) {
    const percent = Number(pct[1]);
    if (percent <= 100) return { percent };
  } else if (/^\d+$/.test(text) && Number.isSafeInteger(Number(text))) {
    return { count: Number(text) };
  }
  throw new UsageError(
    `${flag} ${
      JSON.stringify(String(value))
    }: expected a whole number (e.g. 50) or a percentage from 0% to 100% (e.g. 5%)`,
    "see --help",
  );
}

/** The largest number `limit` allows out of `whole`. */
export function allowed(limit: Limit, whole: number): number {
  return "count" in limit ? limit.count : Math.floor((whole * limit.percent) / 100);
}

/** `limit` as written on the command line. */
export function formatLimit(limit: Limit): string {
  return "count" in limit ? String(limit.count) : `${limit.percent}%`;
}

/** The default deletion limit: at most 10% of the indexed leads, and never more than 1,000. */
export const DEFAULT_MAX_DELETE_SHARE = 10;
export const DEFAULT_MAX_DELETES = 1000;

/**
 * The plan removes (deletes, pauses or unsubscribes) more leads than `--max-deletes` (or its
 * default) allows.
 */
export class DeleteLimitError extends SyncError {
  override readonly exitCode = ExitCode.deleteLimit;
}

/** What `--missing` does to a lead, as the messages word it. */
export type RemovalAction = "delete" | "pause" | "unsubscribe";
const VERB: Record<RemovalAction, [third: string, plural: string]> = {
  delete: ["deletes", "deletes"],
  pause: ["pauses", "pauses"],
  unsubscribe: ["unsubscribes", "unsubscribes"],
};

const n = (x: number) => x.toLocaleString("en-US");
const share = (part: number, whole: number) =>
  whole === 0 ? "100%" : `${Math.round((part / whole) * 1000) / 10}%`;

/**
 * Throws `DeleteLimitError` when `deletes` of `indexed` synced leads exceed the limit.
 * Without a limit: more than 10% of the indexed leads, or more than 1,000. The same limit
 * (`--max-deletes`) holds for every removal: delete, pause, unsubscribe.
 */
export function checkDeletes(
  deletes: number,
  indexed: number,
  limit: Limit | undefined,
  action: RemovalAction = "delete",
): void {
  if (deletes === 0) return;
  const max = limit === undefined
    ? Math.min(DEFAULT_MAX_DELETES, allowed({ percent: DEFAULT_MAX_DELETE_SHARE }, indexed))
    : allowed(limit, indexed);
  if (deletes <= max) return;
  const rule = limit === undefined
    ? `the default limit (${DEFAULT_MAX_DELETE_SHARE}% of the indexed leads, at most ${
      n(DEFAULT_MAX_DELETES)
    }) allows ${n(max)}`
    : `--max-deletes ${formatLimit(limit)} allows ${n(max)}`;
  // The smallest whole percentage that allows them (integer arithmetic: no 7.000001%).
  const pct = indexed === 0 ? 100 : Math.min(100, Math.ceil((deletes * 100) / indexed));
  throw new DeleteLimitError(
    `the plan ${VERB[action][0]} ${n(deletes)} of ${plural(indexed, "indexed lead")} (${
      share(deletes, indexed)
    }); ${rule}; nothing was written`,
    `check the input (the leads are listed with --dry-run); if these ${
      VERB[action][1]
    } are intended, ` +
      `run again with --max-deletes ${deletes} (or --max-deletes ${pct}%)`,
  );
}

/** Every row was rejected, or more than `--max-rejects` allows. */
export function checkRejects(
  rows: number,
  rejected: number,
  limit: Limit | undefined,
  firstReject: { source: string; line: number; reason: string } | undefined,
): void {
  if (rejected === 0) return;
  const over = limit === undefined ? rejected >= rows : rejected > allowed(limit, rows);
  if (!over) return;
  const first = firstReject
    ? ` (first: ${firstReject.source}: line ${firstReject.line}: ${firstReject.reason})`
    : "";
  const what = rejected >= rows
    ? `every row was rejected (${n(rejected)} of ${n(rows)})${first}`
    : `${n(rejected)} of ${plural(rows, "row")} ${rejected === 1 ? "was" : "were"} rejected (${
      share(rejected, rows)
    })${first}, ` +
      `more than --max-rejects ${formatLimit(limit!)} allows`;
  throw new UsageError(
    `${what}; nothing was written`,
    limit === undefined
      ? "check the input and its format (--format); the rejects file (--rejects) has every reason"
      : "check the input and the rejects file (--rejects); raise --max-rejects to send the valid rows anyway",
  );
}

/**
 * An input without a valid row never mirrors: every indexed lead would look gone (and be
 * deleted, paused or unsubscribed by `--missing`, or forgotten by a full refresh).
 */
export function checkMirror(
  valid: number,
  opts: { deleteMissing?: boolean; missing?: RemovalAction | "ignore"; fullRefresh: boolean },
): void {
  const missing = opts.missing ?? (opts.deleteMissing ? "delete" : "ignore");
  if (valid > 0 || (missing === "ignore" && !opts.fullRefresh)) return;
  const what = missing === "delete"
    ? "--delete-missing"
    : missing !== "ignore"
    ? `--missing ${missing}`
    : "--mode full-refresh";
  throw new UsageError(
    `the input has no valid row, so ${what} would treat every indexed lead as gone; nothing was written`,
    "check the input; to empty a campaign, delete its leads in Smartlead",
  );
}
