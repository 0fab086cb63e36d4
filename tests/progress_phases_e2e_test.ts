// deno-lint-ignore-file no-control-regex
/**
 * Progress everywhere a run takes time: updates and deletes (one request per lead) show a
 * counter, and reading the campaign roster (push's lead ids, `verify`) shows how far it got.
 * Drawn only on a terminal; a new phase is drawn at once, so these tests do not depend on
 * timing.
 */
import assert from "node:assert/strict";
import type { Output } from "../lib/output.ts";
import { RunStats } from "../lib/pipeline/stats.ts";
import { ProgressLine, renderProgress } from "../lib/progress.ts";
import type { Progress } from "../lib/push.ts";
import { runCli, underTerminal, withSandbox } from "./helpers.ts";

function progress(phase: Progress["phase"], stats: Partial<RunStats>): Progress {
  return {
    phase,
    stats: Object.assign(new RunStats(), stats),
    bytesRead: 0,
    bytesTotal: undefined,
    waitingUntil: 0,
    waitReason: undefined,
  };
}

Deno.test("renderProgress: updating, deleting and roster phases", () => {
  assert.equal(
    renderProgress(
      progress("updating", { updatesDone: 120, plannedUpdates: 3000, updated: 118 }),
      1000,
    ),
    "updating 120/3,000 · updated 118",
  );
  assert.equal(
    renderProgress(
      progress("updating", {
        updatesDone: 5,
        plannedUpdates: 9,
        updated: 3,
        rejectedBySmartlead: 2,
      }),
      1,
    ),
    "updating 5/9 · updated 3 · 2 rejected",
  );
  assert.equal(
    renderProgress(progress("deleting", { deleted: 7, plannedDeletes: 250 }), 1),
    "deleting 7/250",
  );
  assert.equal(
    renderProgress(progress("roster", { rosterRead: 3500, rosterTotal: 35000 }), 1),
    "reading the campaign roster: 3,500/35,000 leads",
  );
  assert.equal(
    renderProgress(progress("roster", { rosterRead: 100 }), 1),
    "reading the campaign roster: 100 leads",
  );
  // A wait leads the line in every phase.
  const waiting = progress("deleting", { deleted: 1, plannedDeletes: 2 });
  waiting.waitingUntil = 2000;
  assert.equal(
    renderProgress(waiting, 1, false, 1000),
    "waiting 1.0s (rate limit) · deleting 1/2",
  );
});

Deno.test("ProgressLine draws a new phase at once, inside the throttle", () => {
  const writes: string[] = [];
  const out: Output = { out: () => {}, err: (t) => writes.push(t), errIsTty: true, color: false };
  const line = new ProgressLine(out, { now: () => 0, every: () => () => {} });
  line.update(progress("updating", { updatesDone: 0, plannedUpdates: 2 }));
  line.update(progress("updating", { updatesDone: 1, plannedUpdates: 2 })); // throttled
  line.update(progress("deleting", { deleted: 0, plannedDeletes: 1 })); // new phase: drawn
  assert.deepEqual(writes, [
    "\r\x1b[2Kupdating 0/2 · updated 0",
    "\r\x1b[2Kdeleting 0/1",
  ]);
  line.stop();
});

Deno.test("under a terminal, updates, the roster read and deletes each show a counter", async () => {
  // Smartlead's add answer without the id map: the index learns no lead ids, so the updates
  // below must read the campaign first (its export: one request, no total known before).
  await withSandbox({ behaviour: { idMap: false } }, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, "email,name\na@ex.com,A\nb@ex.com,B\nc@ex.com,C\n");
    const first = await runCli(["push", csv, "--campaign-id", "1"], { env });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(sb.state.campaignLeads(1).length, 3);
    // a and b change, c is gone: 2 updates and 1 delete.
    await Deno.writeTextFile(csv, "email,name\na@ex.com,A2\nb@ex.com,B2\n");
    const { code, text } = await underTerminal(
      [
        "push",
        csv,
        "--campaign-id",
        "1",
        "--delete-missing",
        "--max-deletes",
        "1",
        "--concurrency",
        "1",
      ],
      env,
    );
    assert.equal(code, 0, text);
    assert.match(text, /\r\x1b\[2Kupdating 0\/2 · updated 0/);
    assert.match(text, /\r\x1b\[2Kreading the campaign roster: 3 leads/);
    assert.match(text, /\r\x1b\[2Kupdating 1\/2 · updated 1/);
    assert.match(text, /\r\x1b\[2Kdeleting 0\/1/);
    assert.match(text, /added 0, updated 2, unchanged 0, deleted 1/);
    assert.deepEqual(sb.state.campaignLeads(1).map((l) => l.first_name ?? l.custom_fields.name), [
      "A2",
      "B2",
    ]);
  });
});

Deno.test("verify shows the roster read on a terminal, not when piped", async () => {
  await withSandbox({}, async ({ dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(
      csv,
      "email\n" + Array.from({ length: 150 }, (_, i) => `v${i}@ex.com`).join("\n") + "\n",
    );
    assert.equal((await runCli(["push", csv, "--campaign-id", "1"], { env })).code, 0);
    const { code, text } = await underTerminal(["verify", "--campaign-id", "1"], env);
    assert.equal(code, 0, text);
    // The export's first batch is drawn at once (a new phase); the line is cleared before the
    // report.
    assert.match(text, /\r\x1b\[2Kreading the campaign roster: 150 leads/);
    assert.match(
      text,
      /\r\x1b\[2KSmartlead: 150 leads in campaign 1 \(read from the campaign export\); index: 150 synced/,
    );
    const piped = await runCli(["verify", "--campaign-id", "1"], { env });
    assert.equal(piped.code, 0);
    assert.doesNotMatch(piped.stderr, /\r|\x1b|roster/);
  });
});
