/** Stage: the run's outcome as the `--json` summary object and as lines for people. */
import { describeCost, type PlanCost } from "./estimate.ts";
import type { Budget } from "../client/rate_limiter.ts";
import type { RunStats } from "./stats.ts";
import { plural } from "../plural.ts";

/** How many leads `would_delete` lists at most (`would_delete_count` has them all). */
export const WOULD_DELETE_SHOWN = 1000;

/**
 * The `--json` summary. Its counts obey, on every exit (README, "The --json summary"):
 *   rows  = valid + rejected + duplicates_in_input
 *   valid = added + updated + unchanged + skipped_rejected + rejected_by_smartlead + failed
 *           + not_sent
 */
export interface Summary {
  campaign_id: number;
  mode: "incremental" | "full-refresh";
  dry_run: boolean;
  rows: number;
  valid: number;
  rejected: number;
  duplicates_in_input: number;
  added: number;
  updated: number;
  unchanged: number;
  skipped_rejected: number;
  deleted: number;
  failed: number;
  rejected_by_smartlead: number;
  /** Planned to be sent but not sent: a dry run, or a run that stopped first. */
  not_sent: number;
  /** Leads absent from the input that this tool did not add: kept (see --delete-foreign). */
  kept_foreign: number;
  /** Dry runs and runs stopped by the deletion limit: the leads the plan deletes. */
  would_delete?: string[];
  would_delete_count?: number;
  /** What `--missing` does to indexed leads absent from the input. */
  missing: "ignore" | "pause" | "unsubscribe" | "delete";
  /** Leads this run paused, unsubscribed (`--missing`) and resumed (paused ones back). */
  paused: number;
  unsubscribed: number;
  resumed: number;
  /** Leads a pause, unsubscribe or resume found gone from the campaign (stale ids). */
  already_gone: number;
  /** Pauses, unsubscribes and resumes Smartlead refused; tried again next run. */
  not_removed: number;
  /** Leads this tool unsubscribed that are in the input again: they stay unsubscribed. */
  still_unsubscribed: number;
  /** Dry runs and runs stopped by the limit: the leads `--missing` acts on (any action). */
  would_remove?: string[];
  would_remove_count?: number;
  requests: number;
  retries: number;
  rate_limit_wait_ms: number;
  /** Lead ids Smartlead no longer knew (deleted in its UI): updates re-added, deletes gone. */
  stale_ids: number;
  /** Leads whose outcome was read from the campaign, the answer not saying. */
  confirmed: number;
  /**
   * The request budget the run ended with: the ceiling (`--rate`) when Smartlead never
   * refused, what its 429s taught, or what its `x-ratelimit-*` headers said; and the 429s
   * taken. Null without a client (a dry run without a key).
   */
  rate_budget: {
    requests: number;
    window_ms: number;
    source: Budget["source"];
    status_429: number;
  } | null;
  smartlead: Record<string, number>;
  /**
   * The plan, and once planned what it costs (`requests`, `estimated_ms`, `cheaper`...).
   * `remove`: the leads `--missing` acts on (`delete` too when it deletes); `resume`.
   */
  planned: {
    add: number;
    update: number;
    unchanged: number;
    delete: number;
    remove: number;
    resume: number;
  } & Partial<PlanCost>;
  rejects_file: string | null;
  index: string | null;
  duration_ms: number;
  exit_code: number;
  error?: string;
  /** Each add-leads answer's counters, with `--verbose`. */
  batches?: Array<Record<string, number>>;
}

export function buildSummary(
  stats: RunStats,
  info: {
    campaignId: number;
    mode: Summary["mode"];
    dryRun: boolean;
    requests: number;
    retries: number;
    waitedMs: number;
    budget?: Budget;
    refusals?: number;
    rejectsPath: string | undefined;
    indexPath: string | undefined;
    startedAt: number;
    exitCode: number;
    error?: string;
  },
): Summary {
  // Valid rows that are not a later row's duplicate: one per lead.
  const valid = stats.valid - stats.duplicatesInInput;
  const outcomes = stats.added + stats.updated + stats.failed + stats.rejectedBySmartlead;
  const s: Summary = {
    campaign_id: info.campaignId,
    mode: info.mode,
    dry_run: info.dryRun,
    rows: stats.rows,
    valid,
    rejected: stats.rejected,
    duplicates_in_input: stats.duplicatesInInput,
    added: stats.added,
    updated: stats.updated,
    unchanged: stats.unchanged,
    skipped_rejected: stats.skippedRejected,
    deleted: stats.deleted,
    failed: stats.failed,
    rejected_by_smartlead: stats.rejectedBySmartlead,
    not_sent: stats.planned ? stats.plannedAdds + stats.plannedUpdates - outcomes : valid,
    kept_foreign: stats.keptForeign,
    missing: stats.missing,
    paused: stats.paused,
    unsubscribed: stats.unsubscribed,
    resumed: stats.resumed,
    already_gone: stats.alreadyGone,
    not_removed: stats.notRemoved,
    still_unsubscribed: stats.stillUnsubscribed,
    requests: info.requests,
    retries: info.retries,
    rate_limit_wait_ms: Math.round(info.waitedMs),
    stale_ids: stats.staleIds,
    confirmed: stats.confirmed,
    rate_budget: info.budget
      ? {
        requests: info.budget.requests,
        window_ms: info.budget.windowMs,
        source: info.budget.source,
        status_429: info.refusals ?? 0,
      }
      : null,
    smartlead: stats.smartlead,
    planned: {
      add: stats.plannedAdds,
      update: stats.plannedUpdates,
      unchanged: stats.unchanged,
      delete: stats.plannedDeletes,
      remove: stats.plannedRemoves,
      resume: stats.plannedResumes,
      ...stats.cost,
    },
    rejects_file: info.rejectsPath ?? null,
    index: info.indexPath ?? null,
    duration_ms: Math.round(performance.now() - info.startedAt),
    exit_code: info.exitCode,
  };
  if (stats.wouldDelete !== undefined) {
    s.would_delete = stats.wouldDelete.slice(0, WOULD_DELETE_SHOWN);
    s.would_delete_count = stats.wouldDelete.length;
  }
  if (stats.wouldRemove !== undefined) {
    s.would_remove = stats.wouldRemove.slice(0, WOULD_DELETE_SHOWN);
    s.would_remove_count = stats.wouldRemove.length;
  }
  if (info.error !== undefined) s.error = info.error;
  if (stats.batches.length > 0) s.batches = stats.batches;
  return s;
}

function n(x: number): string {
  return x.toLocaleString("en-US");
}

function duration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** A short human summary for stderr. */
export function formatSummary(s: Summary, verbose = false): string[] {
  const lines: string[] = [];
  const head = s.dry_run
    ? "dry run (nothing was written to Smartlead)"
    : `campaign ${s.campaign_id}`;
  lines.push(
    `${head}: ${plural(s.rows, "row")} read, ${n(s.valid)} valid, ${n(s.rejected)} rejected, ` +
      `${plural(s.duplicates_in_input, "duplicate")} in the input`,
  );
  const kept = s.kept_foreign
    ? `, ${s.dry_run ? "keep" : "kept"} ${
      n(s.kept_foreign)
    } absent but not added by smartlead-sync (--delete-foreign ${
      s.missing === "delete" ? "deletes" : "includes"
    } them)`
    : "";
  const verb = { pause: "pause", unsubscribe: "unsubscribe", delete: "delete", ignore: "" }[
    s.missing
  ];
  if (s.dry_run) {
    lines.push(
      `would add ${n(s.planned.add)}, update ${n(s.planned.update)}, leave ${
        n(s.planned.unchanged)
      } unchanged${s.planned.remove ? `, ${verb} ${n(s.planned.remove)}` : ""}` +
        (s.planned.resume ? `, resume ${n(s.planned.resume)}` : "") +
        (s.skipped_rejected ? `, skip ${n(s.skipped_rejected)} refused before` : "") + kept,
    );
    if (s.planned.requests && s.planned.rate && s.planned.update_via) {
      lines.push(...describeCost(s.planned as PlanCost));
    }
  } else {
    lines.push(
      `added ${n(s.added)}, updated ${n(s.updated)}, unchanged ${n(s.unchanged)}` +
        (s.deleted ? `, deleted ${n(s.deleted)}` : "") +
        (s.paused ? `, paused ${n(s.paused)}` : "") +
        (s.unsubscribed ? `, unsubscribed ${n(s.unsubscribed)}` : "") +
        (s.resumed ? `, resumed ${n(s.resumed)}` : "") +
        (s.already_gone ? `, ${n(s.already_gone)} already gone from the campaign` : "") +
        (s.not_removed ? `, ${n(s.not_removed)} not paused/unsubscribed/resumed (see above)` : "") +
        (s.rejected_by_smartlead ? `, refused by Smartlead ${n(s.rejected_by_smartlead)}` : "") +
        (s.failed ? `, not confirmed ${n(s.failed)} (sent again next run)` : "") +
        (s.skipped_rejected ? `, skipped ${n(s.skipped_rejected)} refused before` : "") +
        (s.not_sent ? `, not sent ${n(s.not_sent)}` : "") + kept,
    );
    if (s.stale_ids) {
      lines.push(
        `${n(s.stale_ids)} lead ids were unknown to Smartlead (leads deleted in its UI): ` +
          "their updates were sent as re-adds, their deletes counted as done",
      );
    }
  }
  if (s.rejected + s.rejected_by_smartlead > 0) {
    lines.push(
      s.rejects_file
        ? `rejects written to ${s.rejects_file === "-" ? "stdout" : s.rejects_file}`
        : "pass --rejects <file> to keep the rejected rows",
    );
  }
  lines.push(
    `${plural(s.requests, "request")}${s.retries ? ` (${n(s.retries)} retried)` : ""} in ${
      duration(s.duration_ms)
    }` +
      (s.rate_limit_wait_ms > 1000
        ? `, ${duration(s.rate_limit_wait_ms)} waiting for the rate limit`
        : ""),
  );
  const b = s.rate_budget;
  if (b && (b.source !== "ceiling" || b.status_429 > 0)) {
    const how = b.source === "headers"
      ? "as Smartlead's x-ratelimit headers said"
      : b.source === "learned"
      ? "learnt from Smartlead's refusals"
      : "the --rate ceiling";
    lines.push(
      `rate budget: ${n(b.requests)} requests per ${duration(b.window_ms)} (${how}); ` +
        `${n(b.status_429)} × 429`,
    );
  }
  if (verbose && s.batches) {
    s.batches.forEach((b, i) => {
      lines.push(`batch ${i + 1}: ${Object.entries(b).map(([k, v]) => `${k}=${v}`).join(" ")}`);
    });
  }
  return lines;
}
