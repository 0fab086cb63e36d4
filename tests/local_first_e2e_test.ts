/**
 * Everything local is checked before the network and the lock: option values, inputs,
 * `--rejects`, `--state`. Then the lock, then the campaign. A run that fails before doing
 * any work leaves the lock as it found it, so the next run prints no takeover note; `push()`
 * used as a library gives its lock back on every early failure.
 */
import assert from "node:assert/strict";
import { acquireLock } from "../lib/index/lock.ts";
import { resolveIndexPath } from "../lib/index/paths.ts";
import { fileExists } from "../lib/index/paths.ts";
import { push } from "../lib/push.ts";
import { runCli, TESTDATA, withSandbox } from "./helpers.ts";

const messy = `${TESTDATA}/messy.csv`;
const NOTE = /ended without finishing/;

Deno.test("local problems exit 2 before any request and leave no takeover note behind", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    await Deno.writeTextFile(`${dir}/file.txt`, "not a directory\n");
    await Deno.mkdir(`${dir}/rejects.d`);
    const base = ["push", messy, "--campaign-id", "1"];
    const cases: Array<[string[], string]> = [
      [
        ["--rejects", `${dir}/rejects.d`],
        `error: cannot write the rejects file ${dir}/rejects.d: is a directory — check --rejects`,
      ],
      [
        ["--state", `${dir}/file.txt/state`],
        `error: cannot create the state directory ${dir}/file.txt/state: a part of the path is not a directory — check --state`,
      ],
      [
        ["--rejects", `${dir}/no/such/dir/rejects.ndjson`],
        `error: cannot write the rejects file ${dir}/no/such/dir/rejects.ndjson: no such file or directory — check --rejects`,
      ],
      [
        ["--concurrency", "0"],
        'error: --concurrency "0": expected a whole number from 1 to 32 — see --help',
      ],
    ];
    for (const [extra, line] of cases) {
      const r = await runCli([...base, ...extra], { env });
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr, line + "\n");
      assert.equal(sb.requests.length, 0, `${extra.join(" ")} made a request`);
    }
    // Failures after the lock, at the campaign check, give it back too.
    const wrongKey = await runCli(base, { env: { ...env, SMARTLEAD_API_KEY: "wrong-key-123" } });
    assert.equal(wrongKey.code, 3, wrongKey.stderr);
    const next = await runCli(base, { env });
    assert.equal(next.code, 0, next.stderr);
    assert.doesNotMatch(next.stderr, NOTE);
    assert.equal(sb.state.campaignLeads(1).length, 3);
  });
});

Deno.test("push() as a library gives the lock back on every early failure", async () => {
  await withSandbox({}, async ({ sb, dir }) => {
    const state = `${dir}/state`;
    const opts = { inputs: [messy], campaignId: 1, apiKey: sb.apiKey, baseUrl: sb.url, state };
    const index = resolveIndexPath(state, sb.url, 1);
    const lockIsFree = async (path: string) => {
      const lock = acquireLock(path); // throws LockedError while a failed run still holds it
      assert.equal(lock.takenOverFrom, undefined);
      lock.release();
      assert.equal(await fileExists(`${path}.lock.json`), false);
    };
    await Deno.mkdir(`${dir}/rejects.d`);
    await assert.rejects(push({ ...opts, rejectsPath: `${dir}/rejects.d` }), {
      name: "UsageError",
    });
    await Deno.mkdir(state, { recursive: true });
    await lockIsFree(index);
    await assert.rejects(push({ ...opts, campaignId: 999 }), { name: "CampaignNotFoundError" });
    await lockIsFree(resolveIndexPath(state, sb.url, 999));
    // A damaged index fails after the lock was taken.
    await Deno.writeTextFile(index, "this is not an SQLite database\n".repeat(200));
    await assert.rejects(push(opts));
    await lockIsFree(index);
    assert.deepEqual(sb.state.campaignLeads(1), []);
    // A rejects file that cannot take the last rows (a full disk) fails the run after its
    // work: the lock is given back all the same.
    await Deno.remove(index);
    await assert.rejects(push({ ...opts, rejectsPath: "/dev/full" }), {
      name: "UsageError",
      message: "cannot write the rejects file /dev/full: no space left on device",
    });
    await lockIsFree(index);
    assert.equal(sb.state.campaignLeads(1).length, 3);
  });
});

Deno.test("after a killed run, a run refused at the campaign check neither notes nor hides it", async () => {
  await withSandbox({}, async ({ sb, env }) => {
    const base = ["push", messy, "--campaign-id", "1"];
    // A run killed (SIGKILL) while it holds the lock, waiting out a 10-minute Retry-After.
    sb.addFault({
      method: "POST",
      pathPattern: "/campaigns/1/leads",
      times: 1,
      fault: { kind: "rate_limit", retryAfter: 600 },
    });
    let kill = false;
    const killed = runCli(base, { env, kill: { when: () => kill } });
    while (!sb.requests.some((r) => r.status === 429)) {
      await new Promise((r) => setTimeout(r, 10));
    }
    kill = true;
    assert.equal((await killed).code, 137);
    // Refused at the campaign check: it did none of the killed run's work, so it says nothing.
    const wrongKey = await runCli(base, { env: { ...env, SMARTLEAD_API_KEY: "wrong-key-123" } });
    assert.equal(wrongKey.code, 3, wrongKey.stderr);
    assert.doesNotMatch(wrongKey.stderr, NOTE);
    // The run that does continue the work is the one that notes it.
    const next = await runCli(base, { env });
    assert.equal(next.code, 0, next.stderr);
    assert.match(
      next.stderr,
      /^note: the previous run \(pid \d+, started .*\) ended without finishing; continuing its work$/m,
    );
    assert.equal(sb.state.campaignLeads(1).length, 3);
  });
});
