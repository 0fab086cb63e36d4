/**
 * The lock: two names of one index share it, and a damaged lock or holder file neither
 * blocks a run forever nor crashes it.
 */
import assert from "node:assert/strict";
import { LockedError } from "../lib/errors.ts";
import { acquireLock, readLockInfo } from "../lib/index/lock.ts";
import { countRequests, runCli, summaryOf, tempDir, withSandbox } from "./helpers.ts";

async function inTemp(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await tempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const isLocked = (e: unknown) => e instanceof LockedError && e.exitCode === 7;

Deno.test("every name of one index takes the same lock", async (t) => {
  await t.step("a symbolic link to the index file", () =>
    inTemp(async (dir) => {
      await Deno.writeTextFile(`${dir}/real.db`, "");
      await Deno.symlink(`${dir}/real.db`, `${dir}/alias.db`);
      const held = acquireLock(`${dir}/real.db`);
      assert.throws(() => acquireLock(`${dir}/alias.db`), isLocked);
      held.release();
      const other = acquireLock(`${dir}/alias.db`);
      assert.equal(other.path, `${await Deno.realPath(dir)}/real.db.lock`);
      assert.throws(() => acquireLock(`${dir}/real.db`), isLocked);
      other.release();
    }));
  await t.step("a link to the directory, before the index exists", () =>
    inTemp(async (dir) => {
      await Deno.mkdir(`${dir}/state`);
      await Deno.symlink(`${dir}/state`, `${dir}/state-link`);
      const held = acquireLock(`${dir}/state/x.db`);
      assert.throws(() => acquireLock(`${dir}/state-link/x.db`), isLocked);
      assert.throws(() => acquireLock(`${dir}/state/../state/x.db`), isLocked);
      held.release();
    }));
  await t.step("a dangling link to where the index will be", () =>
    inTemp(async (dir) => {
      await Deno.symlink(`${dir}/later.db`, `${dir}/alias.db`);
      const held = acquireLock(`${dir}/alias.db`);
      assert.throws(() => acquireLock(`${dir}/later.db`), isLocked);
      held.release();
    }));
});

Deno.test("a damaged lock file is reset, not read as 'locked' forever", async () => {
  await inTemp(async (dir) => {
    const path = `${dir}/x.db`;
    const garbage = new Uint8Array(8192).map((_, i) => (i * 7919) % 251);
    await Deno.writeFile(`${path}.lock`, garbage);
    const lock = acquireLock(path);
    // It is a working lock again: a second taker is refused while it is held.
    assert.throws(() => acquireLock(path), isLocked);
    lock.release();
    acquireLock(path).release();
  });
});

Deno.test("a damaged holder file: no crash, no made-up holder", async (t) => {
  for (
    const [name, text] of [
      ["not JSON", "{pid: 12"],
      ["JSON null", "null"],
      ["a wrong shape", '{"pid":"x","hostname":3}'],
      ["binary", "\u0000\u0001\u0002"],
    ] as const
  ) {
    await t.step(name, () =>
      inTemp(async (dir) => {
        const path = `${dir}/x.db`;
        await Deno.writeTextFile(`${path}.lock.json`, text);
        assert.equal(readLockInfo(`${path}.lock.json`), undefined);
        const held = acquireLock(path);
        assert.equal(held.takenOverFrom, undefined);
        await Deno.writeTextFile(`${path}.lock.json`, text);
        assert.throws(() => acquireLock(path), (e) => {
          assert.ok(isLocked(e));
          assert.equal(
            (e as Error).message,
            `the index ${path} is locked by another run (another process)`,
          );
          return true;
        });
        held.release();
      }));
  }
  await t.step("a directory where the holder file goes", () =>
    inTemp(async (dir) => {
      const path = `${dir}/x.db`;
      await Deno.mkdir(`${path}.lock.json/sub`, { recursive: true });
      const held = acquireLock(path);
      assert.equal(held.takenOverFrom, undefined);
      held.release();
    }));
});

function csvOf(n: number): string {
  return "email\n" + Array.from({ length: n }, (_, i) => `p${i}@ex.com`).join("\n") + "\n";
}

Deno.test("a run through a symbolic link to a locked index exits 7 and sends nothing", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf(3));
    await Deno.mkdir(`${dir}/real`);
    const real = `${dir}/real/leads.db`;
    const first = await runCli(["push", csv, "--campaign-id", "1", "--state", real], { env });
    assert.equal(first.code, 0, first.stderr);
    await Deno.symlink(real, `${dir}/alias.db`);
    await Deno.writeTextFile(csv, csvOf(6));
    const held = acquireLock(real);
    try {
      const mark = countRequests(sb).adds;
      const r = await runCli(["push", csv, "--campaign-id", "1", "--state", `${dir}/alias.db`], {
        env,
      });
      assert.equal(r.code, 7, r.stderr);
      assert.match(r.stderr, /^error: the index .*alias\.db is locked by another run \(pid \d+ /m);
      assert.equal(countRequests(sb).adds, mark);
      assert.equal(sb.state.campaignLeads(1).length, 3);
    } finally {
      held.release();
    }
  });
});

Deno.test("a run with a damaged lock file beside its index proceeds", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf(4));
    await Deno.mkdir(`${dir}/idx`);
    const index = `${dir}/idx/leads.db`;
    await Deno.writeTextFile(`${index}.lock`, "this is not an SQLite database ".repeat(200));
    await Deno.writeTextFile(`${index}.lock.json`, "{truncated");
    const r = await runCli(["push", csv, "--campaign-id", "1", "--state", index, "--json"], {
      env,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(summaryOf(r).added, 4);
    assert.equal(sb.state.campaignLeads(1).length, 4);
    assert.doesNotMatch(r.stderr, /previous run/);
  });
});
