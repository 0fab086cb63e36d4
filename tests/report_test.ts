/** The summary's counts and the identities `assertIdentities` checks on every e2e summary. */
import assert from "node:assert/strict";
import { buildSummary } from "../lib/pipeline/report.ts";
import { RunStats } from "../lib/pipeline/stats.ts";
import { assertIdentities } from "./helpers.ts";

/** 10 rows: 1 rejected, 1 duplicate, 8 leads planned 4 add, 2 update, 1 unchanged, 1 skipped. */
function planned(): RunStats {
  const s = new RunStats();
  Object.assign(s, {
    rows: 10,
    valid: 9,
    rejected: 1,
    duplicatesInInput: 1,
    plannedAdds: 4,
    plannedUpdates: 2,
    unchanged: 1,
    skippedRejected: 1,
    planned: true,
  });
  return s;
}

const info = (dryRun: boolean, exitCode = 0) => ({
  campaignId: 1,
  mode: "incremental" as const,
  dryRun,
  requests: 3,
  retries: 1,
  waitedMs: 0,
  rejectsPath: undefined,
  indexPath: undefined,
  startedAt: performance.now(),
  exitCode,
});

Deno.test("valid counts each lead once; not_sent is what the plan still had to send", () => {
  const dry = buildSummary(planned(), info(true));
  assert.deepEqual([dry.rows, dry.valid, dry.rejected, dry.not_sent], [10, 8, 1, 6]);
  assertIdentities(dry as unknown as Record<string, unknown>);

  const stats = planned();
  Object.assign(stats, { added: 3, updated: 1, rejectedBySmartlead: 1, failed: 1 });
  const done = buildSummary(stats, info(false));
  assert.equal(done.not_sent, 0);
  assertIdentities(done as unknown as Record<string, unknown>);

  // Stopped after two outcomes: the other four were not sent.
  const stopped = planned();
  Object.assign(stopped, { added: 2 });
  const s = buildSummary(stopped, info(false, 130));
  assert.equal(s.not_sent, 4);
  assertIdentities(s as unknown as Record<string, unknown>);
});

Deno.test("assertIdentities catches a lead counted twice, and a finished run with leads left", () => {
  const twice = planned();
  Object.assign(twice, { added: 4, updated: 3 }); // one update also counted as added
  assert.throws(
    () => assertIdentities(buildSummary(twice, info(false)) as unknown as Record<string, unknown>),
    /not_sent = -1/,
  );
  const short = planned();
  Object.assign(short, { added: 4, updated: 1 });
  assert.throws(
    () => assertIdentities(buildSummary(short, info(false)) as unknown as Record<string, unknown>),
    /finished/,
  );
  const lost = { ...buildSummary(planned(), info(true)), rows: 11 };
  assert.throws(() => assertIdentities(lost as unknown as Record<string, unknown>), /^.*rows:/);
});
