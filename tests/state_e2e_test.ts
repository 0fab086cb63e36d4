/**
 * `state --all` lists every index of the state directory; `state forget` removes one, after a
 * confirmation (y/N on a terminal, --yes for scripts), never under a running push.
 */
import assert from "node:assert/strict";
import { acquireLock } from "../lib/index/lock.ts";
import { outcomeOf, runCli, underTerminal, withSandbox } from "./helpers.ts";

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/** A sandbox with campaigns 1 and 2, each pushed once (2 and 3 leads). */
function withTwoIndexes(
  fn: (c: { dir: string; env: Record<string, string>; index: (id: number) => string }) => Promise<
    void
  >,
): Promise<void> {
  return withSandbox({ campaignIds: [1, 2] }, async ({ sb, dir, env }) => {
    await Deno.writeTextFile(`${dir}/a.csv`, "email\na@ex.com\nb@ex.com\n");
    await Deno.writeTextFile(`${dir}/b.csv`, "email\nc@ex.com\nd@ex.com\nnope\ne@ex.com\n");
    for (const [id, csv] of [["1", "a.csv"], ["2", "b.csv"]]) {
      const r = await runCli(["push", `${dir}/${csv}`, "--campaign-id", id!], { env });
      assert.equal(r.code, 0, r.stderr);
    }
    const host = new URL(sb.url).host.replace(":", "_");
    await fn({
      dir,
      env,
      index: (id) => `${dir}/state/smartlead-sync/${host}-campaign-${id}.db`,
    });
  });
}

Deno.test("state --all lists every index with its campaign, host, counts and last run", async () => {
  await withTwoIndexes(async ({ dir, env, index }) => {
    const stateDir = `${dir}/state/smartlead-sync`;
    // A damaged index is listed as such; the others still are; other files are not indexes.
    await Deno.writeTextFile(`${stateDir}/broken.db`, "not a database at all, but long enough");
    await Deno.writeTextFile(`${stateDir}/old.db.damaged-2026`, "x");
    const r = await runCli(["state", "--all", "--json"], { env });
    assert.equal(r.code, 0, r.stderr);
    const o = outcomeOf(r, "state");
    assert.equal(o.state_dir, stateDir);
    assert.equal(o.count, 3);
    const [i1, i2, broken] = [index(1), index(2), `${stateDir}/broken.db`];
    const list = o.indexes as Array<Record<string, unknown>>;
    // Sorted by file name: "127.0.0.1_..." before "broken.db".
    assert.deepEqual(list.map((x) => x.index), [i1, i2, broken]);
    const host = new URL(env.SMARTLEAD_BASE_URL!).host;
    for (const [x, id, total] of [[list[0]!, 1, 2], [list[1]!, 2, 3]] as const) {
      assert.equal(x.campaign_id, id);
      assert.equal(x.base_url, env.SMARTLEAD_BASE_URL);
      assert.equal(x.host, host);
      assert.deepEqual(x.leads, { synced: total, rejected: 0, pending: 0 });
      const last = x.last_run as Record<string, unknown>;
      assert.equal(last.exit_code, 0);
      assert.equal(last.mode, "incremental");
    }
    assert.match(String(list[2]!.error), /is damaged|not an SQLite/);

    const human = await runCli(["state", "--all"], { env });
    assert.equal(human.code, 0);
    assert.equal(human.stdout, "");
    const lines = human.stderr.split("\n");
    assert.equal(lines[0], `${stateDir}: 3 indexes`);
    assert.equal(lines[1], i1.slice(stateDir.length + 1));
    assert.equal(lines[2], `  campaign 1 at ${env.SMARTLEAD_BASE_URL}`);
    assert.equal(lines[3], "  2 leads (synced 2, rejected 0, pending 0)");
    assert.match(lines[4]!, /^ {2}last run: \S+ \(incremental\), exit 0: added 2, updated 0/);
    assert.equal(lines[6], `  campaign 2 at ${env.SMARTLEAD_BASE_URL}`);
    assert.equal(lines[9], "broken.db");
    assert.match(lines[10]!, /^ {2}cannot be read: /);

    // --state naming a directory (or an index file in it) lists that directory.
    const other = await runCli(["state", "--all", "--state", `${dir}/empty`], { env });
    assert.equal(other.code, 0);
    assert.equal(other.stderr, `no indexes in ${dir}/empty (a push creates one per campaign)\n`);
    const byFile = await runCli(["state", "--all", "--state", i1, "--json"], { env });
    assert.equal(outcomeOf(byFile, "state").count, 3);
  });
});

Deno.test("state forget: refused without a terminal or --yes; --dry-run lists; --yes removes one index", async () => {
  await withTwoIndexes(async ({ env, index }) => {
    const refused = await runCli(["state", "forget", "--campaign-id", "2"], { env });
    assert.equal(refused.code, 2);
    assert.equal(
      refused.stderr,
      `error: state forget would remove the index of campaign 2 (3 leads): ${
        index(2)
      }, and there is no terminal to confirm it on — pass --yes to remove it (--dry-run shows the files)\n`,
    );
    assert.ok(await exists(index(2)));

    const dry = await runCli(["state", "forget", "--campaign-id", "2", "--dry-run", "--json"], {
      env,
    });
    assert.equal(dry.code, 0, dry.stderr);
    const d = outcomeOf(dry, "state");
    assert.equal(d.dry_run, true);
    assert.ok((d.would_remove as string[]).includes(index(2)));
    assert.deepEqual(d.removed, []);
    assert.ok(await exists(index(2)));

    const gone = await runCli(["state", "forget", "--campaign-id", "2", "--yes"], { env });
    assert.equal(gone.code, 0, gone.stderr);
    assert.match(gone.stderr, /^removed the index of campaign 2 \(3 leads\): /);
    for (const suffix of ["", "-wal", "-shm", "-journal", ".lock", ".lock.json"]) {
      assert.ok(!(await exists(index(2) + suffix)), suffix);
    }
    assert.ok(await exists(index(1))); // the other campaign's index is untouched
    const state = await runCli(["state", "--campaign-id", "2"], { env });
    assert.equal(state.code, 2);
    assert.match(state.stderr, /^error: no index at /);
    // Nothing left to forget.
    const again = await runCli(["state", "forget", "--campaign-id", "2", "--yes"], { env });
    assert.equal(again.code, 2);
    assert.match(again.stderr, /^error: no index at .*: nothing to forget/);
    // --yes and --dry-run belong to forget; forget takes one index.
    const stray = await runCli(["state", "--campaign-id", "1", "--yes"], { env });
    assert.equal(stray.code, 2);
    assert.match(stray.stderr, /^error: --yes applies to state forget only/);
    const all = await runCli(["state", "forget", "--all", "--yes"], { env });
    assert.equal(all.code, 2);
    assert.ok(await exists(index(1)));
  });
});

Deno.test("state forget takes the lock first: a running push keeps its index (exit 7)", async () => {
  await withTwoIndexes(async ({ env, index }) => {
    const held = acquireLock(index(1)); // what a running push holds
    try {
      const r = await runCli(["state", "forget", "--campaign-id", "1", "--yes"], { env });
      assert.equal(r.code, 7);
      assert.match(r.stderr, /^error: the index .* is locked by another run/);
      assert.ok(await exists(index(1)));
    } finally {
      held.release();
    }
  });
});

Deno.test("state forget on a terminal asks y/N: only yes removes", async () => {
  await withTwoIndexes(async ({ env, index }) => {
    const no = await underTerminal(["state", "forget", "--campaign-id", "1"], env, "n\n");
    assert.equal(no.code, 0, no.text);
    assert.match(no.text, /remove the index of campaign 1 \(2 leads\): .*\?\r?\n/);
    assert.match(no.text, /\[y\/N\] /);
    assert.match(no.text, /not removed/);
    assert.ok(await exists(index(1)));
    const yes = await underTerminal(["state", "forget", "--campaign-id", "1"], env, "y\n");
    assert.equal(yes.code, 0, yes.text);
    assert.match(yes.text, /removed the index of campaign 1/);
    assert.ok(!(await exists(index(1))));
  });
});
