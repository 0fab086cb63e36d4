// deno-lint-ignore-file no-control-regex
/**
 * The progress line: the pure renderer, the redraw throttle, and the real CLI under a
 * pseudo-terminal (util-linux `script`) showing progress and a rate-limit wait.
 */
import assert from "node:assert/strict";
import type { Output } from "../lib/output.ts";
import { RunStats } from "../lib/pipeline/stats.ts";
import { ProgressLine, renderProgress } from "../lib/progress.ts";
import type { Progress } from "../lib/push.ts";
import { cliArgs, runCli, withSandbox } from "./helpers.ts";

/** Runs the CLI under a pseudo-terminal (util-linux `script`); returns its exit and screen. */
async function underTerminal(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; text: string }> {
  const cmd = [Deno.execPath(), ...cliArgs(args)].map((a) => `'${a}'`).join(" ");
  const out = await new Deno.Command("script", {
    args: ["-qefc", cmd, "/dev/null"],
    env: { ...env, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, text: new TextDecoder().decode(out.stdout) };
}

function progress(over: Partial<Progress>, stats: Partial<RunStats> = {}): Progress {
  return {
    phase: "reading",
    stats: Object.assign(new RunStats(), stats),
    bytesRead: 0,
    bytesTotal: undefined,
    waitingUntil: 0,
    waitReason: undefined,
    ...over,
  };
}

Deno.test("renderProgress", async (t) => {
  await t.step("reading with a known size shows percent, ETA and rate", () => {
    const line = renderProgress(
      progress({ bytesRead: 250, bytesTotal: 1000 }, { rows: 5000, rejected: 12 }),
      2000,
    );
    assert.equal(line, "read 5,000 rows · 25% · ETA 6s · 2,500 rows/s · 12 rejected");
  });
  await t.step("reading while batches go out shows what was sent so far", () => {
    const line = renderProgress(
      progress({ bytesRead: 500, bytesTotal: 1000 }, { rows: 4000, sent: 300, added: 290 }),
      2000,
    );
    assert.equal(
      line,
      "read 4,000 rows · 50% · ETA 2s · 2,000 rows/s · sent 300 · added 290 · updated 0",
    );
  });
  await t.step("stdin (unknown size) has no percent or ETA", () => {
    assert.equal(renderProgress(progress({}, { rows: 100 }), 1000), "read 100 rows · 100 rows/s");
  });
  await t.step("sending shows sent/total, skipped, rejected and a visible wait", () => {
    const line = renderProgress(
      progress(
        { phase: "sending", waitingUntil: 6500, waitReason: "retry-after" },
        {
          plannedAdds: 300,
          plannedUpdates: 20,
          sent: 200,
          added: 190,
          updated: 10,
          unchanged: 4000,
          rejected: 3,
          rejectedBySmartlead: 2,
        },
      ),
      5000,
      false,
      5000,
    );
    assert.equal(
      line,
      "waiting 1.5s (retry-after) · sent 200/320 · added 190 · updated 10 · skipped 4,000 · 5 rejected",
    );
    // Once the wait is over it is no longer shown.
    assert.doesNotMatch(
      renderProgress(progress({ phase: "sending", waitingUntil: 6500 }), 1, false, 6501),
      /waiting/,
    );
  });
  await t.step("colour only when asked", () => {
    const line = renderProgress(progress({ phase: "sending", waitingUntil: 1500 }), 1, true, 1000);
    assert.match(line, /\x1b\[33mwaiting 0\.5s \(rate limit\)\x1b\[39m/);
    assert.doesNotMatch(
      renderProgress(progress({ phase: "sending", waitingUntil: 1500 }), 1, false, 1000),
      /\x1b/,
    );
  });
});

Deno.test("ProgressLine redraws at most ten times a second and clears itself", () => {
  const writes: string[] = [];
  const out: Output = { out: () => {}, err: (t) => writes.push(t), errIsTty: true, color: false };
  // A fake clock: time moves only when the test says so, timers fire only when told.
  let now = 0;
  const timers: { f: () => void; ms: number }[] = [];
  let cancelled = 0;
  const clock = {
    now: () => now,
    every: (f: () => void, ms: number) => {
      timers.push({ f, ms });
      return () => void cancelled++;
    },
  };
  const line = new ProgressLine(out, clock);
  assert.deepEqual(timers.map((t) => t.ms), [250]);
  // The very first update draws, whatever the clock reads (a young process reads ~0).
  for (let i = 0; i < 50; i++) line.update(progress({}, { rows: i }));
  assert.deepEqual(writes, ["\r\x1b[2Kread 0 rows · 0 rows/s"]);
  now = 99;
  line.update(progress({}, { rows: 50 }));
  assert.equal(writes.length, 1);
  now = 100;
  line.update(progress({}, { rows: 60 }));
  assert.equal(writes.length, 2);
  assert.equal(writes[1], "\r\x1b[2Kread 60 rows · 600 rows/s");
  // The timer redraws the latest state even without a new update (a visible wait).
  now = 300;
  timers[0]!.f();
  assert.equal(writes[2], "\r\x1b[2Kread 60 rows · 200 rows/s");
  line.stop();
  assert.equal(cancelled, 1);
  assert.equal(writes.at(-1), "\r\x1b[2K");
  assert.equal(writes.length, 4);
});

Deno.test("ProgressLine draws nothing before the first update, and clear is idempotent", () => {
  const writes: string[] = [];
  const out: Output = { out: () => {}, err: (t) => writes.push(t), errIsTty: true, color: false };
  let tick: () => void = () => {};
  const line = new ProgressLine(out, {
    now: () => 5,
    every: (f) => ((tick = f), () => {}),
  });
  tick();
  line.clear();
  line.stop();
  assert.deepEqual(writes, []);
});

Deno.test("under a pseudo-terminal the CLI draws progress and the rate-limit wait; not when piped", async () => {
  await withSandbox({ latencyMs: 20 }, async ({ dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(
      csv,
      "email\n" + Array.from({ length: 60 }, (_, i) => `t${i}@ex.com`).join("\n") + "\n",
    );
    const { code, text } = await underTerminal(
      ["push", csv, "--campaign-id", "1", "--batch-size", "10", "--rate", "2/1"],
      env,
    );
    assert.equal(code, 0, text);
    // A redraw may fall inside a rate-limit wait, which then leads the line.
    assert.match(text, /\r\x1b\[2K(waiting \d+\.\ds \(rate limit\) · )?sent \d+\/60 · added \d+/);
    assert.match(text, /waiting \d\.\ds \(rate limit\)/);
    assert.match(text, /added 60, updated 0, unchanged 0/);
    assert.doesNotMatch(text, /\x1b\[33m/); // NO_COLOR
    // Piped stderr (not a terminal): the summary only, no progress.
    const piped = await runCli(["push", csv, "--campaign-id", "1"], { env });
    assert.equal(piped.code, 0);
    assert.equal(
      piped.stderr,
      "campaign 1: 60 rows read, 60 valid, 0 rejected, 0 duplicates in the input\nadded 0, updated 0, unchanged 60\n1 request in " +
        piped.stderr.split("1 request in ")[1],
    );
    assert.doesNotMatch(piped.stderr, /\r|\x1b/);
  });
});

Deno.test("push with no file and a terminal on stdin says so instead of waiting", async () => {
  const { code, text } = await underTerminal(["push", "--campaign-id", "1", "--dry-run"], {});
  assert.equal(code, 2, text);
  assert.match(text, /^error: no input: stdin is a terminal — name a file/);
});
