/**
 * A reference planner for tests, written straight from `IndexStore.plan()`'s SQL: fold the
 * input so that the last row per email wins, then one CASE per email against the index;
 * absent = indexed emails neither staged nor kept. No streaming, no batches, no cleverness.
 */
import type { LeadStatus } from "../lib/index/store.ts";

export interface RefIndexed {
  hash: string;
  status: LeadStatus;
  leadId: number | null;
}

export type RefRow =
  | { kind: "lead"; email: string; hash: string }
  /** A row rejected for another reason than its (valid) email. */
  | { kind: "keep"; email: string }
  /** A row rejected for its email, or unparseable: not in the input as far as plans go. */
  | { kind: "reject" };

export type RefAction = "add" | "update" | "unchanged" | "skip_rejected";

export interface RefPlan {
  /** Per distinct email: the action for its last row, and that row's hash. */
  actions: Map<string, { action: RefAction; hash: string }>;
  counts: { add: number; update: number; unchanged: number; skippedRejected: number };
  duplicates: number;
  /** Synced index entries absent from the input (--delete-missing), sorted. */
  missing: string[];
  /** Index entries of any status absent from the input (full refresh's forgetAbsent), sorted. */
  absent: string[];
}

export function refDecide(
  l: RefIndexed | undefined,
  hash: string,
  opts: { fullRefresh: boolean; retryRejected: boolean },
): RefAction {
  if (l === undefined || opts.fullRefresh) return "add";
  if (l.status === "synced" && l.hash === hash) return "unchanged";
  if (l.status === "synced") return "update";
  if (l.status === "pending" && l.leadId !== null) return "update";
  if (l.status === "pending") return "add";
  if (opts.retryRejected || l.hash !== hash) return "add";
  return "skip_rejected";
}

export function referencePlan(
  index: ReadonlyMap<string, RefIndexed>,
  rows: readonly RefRow[],
  opts: { fullRefresh: boolean; retryRejected: boolean },
): RefPlan {
  const last = new Map<string, string>();
  const keep = new Set<string>();
  let valid = 0;
  for (const r of rows) {
    if (r.kind === "lead") {
      valid++;
      last.set(r.email, r.hash);
    } else if (r.kind === "keep") keep.add(r.email);
  }
  const actions = new Map<string, { action: RefAction; hash: string }>();
  const counts = { add: 0, update: 0, unchanged: 0, skippedRejected: 0 };
  for (const [email, hash] of last) {
    const action = refDecide(index.get(email), hash, opts);
    actions.set(email, { action, hash });
    if (action === "add") counts.add++;
    else if (action === "update") counts.update++;
    else if (action === "unchanged") counts.unchanged++;
    else counts.skippedRejected++;
  }
  const absentOf = (synced: boolean) =>
    [...index].filter(([e, l]) =>
      (!synced || l.status === "synced") && !last.has(e) && !keep.has(e)
    )
      .map(([e]) => e).sort();
  return {
    actions,
    counts,
    duplicates: valid - last.size,
    missing: absentOf(true),
    absent: absentOf(false),
  };
}
