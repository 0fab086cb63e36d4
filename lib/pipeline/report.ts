/** Stage: the run's outcome as the `--json` summary object and as lines for people. */
import type { Budget } from "../client/rate_limiter.ts";
import type { RunStats } from "./stats.ts";

/** The `--json` summary. */
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
  requests: number;
  retries: number;
  rate_limit_wait_ms: number;
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
  planned: { add: number; update: number; unchanged: number; delete: number };
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
  const s: Summary = {
    campaign_id: info.campaignId,
    mode: info.mode,
    dry_run: info.dryRun,
    rows: stats.rows,
    valid: stats.valid,
    rejected: stats.rejected + stats.rejectedBySmartlead,
    duplicates_in_input: stats.duplicatesInInput,
    added: stats.added,
    updated: stats.updated,
    unchanged: stats.unchanged,
    skipped_rejected: stats.skippedRejected,
    deleted: stats.deleted,
    failed: stats.failed,
    rejected_by_smartlead: stats.rejectedBySmartlead,
    requests: info.requests,
    retries: info.retries,
    rate_limit_wait_ms: Math.round(info.waitedMs),
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
    },
    rejects_file: info.rejectsPath ?? null,
    index: info.indexPath ?? null,
    duration_ms: Math.round(performance.now() - info.startedAt),
    exit_code: info.exitCode,
  };
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
    `${head}: ${n(s.rows)} rows read, ${n(s.valid)} valid, ${n(s.rejected)} rejected, ` +
      `${n(s.duplicates_in_input)} duplicates in the input`,
  );
  if (s.dry_run) {
    lines.push(
      `would add ${n(s.planned.add)}, update ${n(s.planned.update)}, leave ${
        n(s.planned.unchanged)
      } unchanged${s.planned.delete ? `, delete ${n(s.planned.delete)}` : ""}` +
        (s.skipped_rejected ? `, skip ${n(s.skipped_rejected)} refused before` : ""),
    );
  } else {
    lines.push(
      `added ${n(s.added)}, updated ${n(s.updated)}, unchanged ${n(s.unchanged)}` +
        (s.deleted ? `, deleted ${n(s.deleted)}` : "") +
        (s.rejected_by_smartlead ? `, refused by Smartlead ${n(s.rejected_by_smartlead)}` : "") +
        (s.failed ? `, not confirmed ${n(s.failed)} (sent again next run)` : "") +
        (s.skipped_rejected ? `, skipped ${n(s.skipped_rejected)} refused before` : ""),
    );
  }
  if (s.rejected > 0) {
    lines.push(
      s.rejects_file
        ? `rejects written to ${s.rejects_file}`
        : "pass --rejects <file> to keep the rejected rows",
    );
  }
  lines.push(
    `${n(s.requests)} request${s.requests === 1 ? "" : "s"}${
      s.retries ? ` (${n(s.retries)} retried)` : ""
    } in ${duration(s.duration_ms)}` +
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
