/**
 * A damaged index is named as such, the same way, by push (also --dry-run), state and
 * verify, with how to recover; `verify --repair` moves it aside and rebuilds it.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { IndexDamagedError } from "../lib/errors.ts";
import { IndexStore, SCHEMA_VERSION } from "../lib/index/store.ts";
import { countRequests, runCli, summaryOf, tempDir, withSandbox } from "./helpers.ts";

const HINT =
  "rebuild it from the campaign with `smartlead-sync verify --repair` (same --campaign-id and --state); it keeps the damaged file beside it as .damaged-<time>";

function csvOf(n: number): string {
  return "email,first_name\n" +
    Array.from({ length: n }, (_, i) => `p${i}@ex.com,P${i}`).join("\n") + "\n";
}

function sql(path: string, text: string): void {
  const db = new DatabaseSync(path);
  try {
    db.exec(text);
  } finally {
    db.close();
  }
}

/** Bytes that are not SQLite pages (deterministic). */
const garbage = (n: number) => new Uint8Array(n).map((_, i) => (i * 7919 + 13) % 251);

/** Overwrites `size` bytes at `offset` (the file keeps its length when it is long enough). */
async function scribble(path: string, offset: number, size: number): Promise<void> {
  using f = await Deno.open(path, { write: true });
  await f.seek(offset, Deno.SeekMode.Start);
  await f.write(garbage(size));
}

const DAMAGES: Array<{
  name: string;
  damage: (index: string) => Promise<void> | void;
  reason: RegExp;
}> = [
  {
    name: "a 0-byte file",
    damage: (p) => Deno.truncate(p, 0),
    reason: /^the file is empty \(0 bytes\)$/,
  },
  {
    name: "64 kB of garbage in the middle",
    damage: async (p) => {
      const size = (await Deno.stat(p)).size;
      assert.ok(size > 3 * 65536, `the index is ${size} bytes`);
      await scribble(p, Math.floor(size / 2 / 4096) * 4096, 65536);
    },
    reason: /^(SQLite's integrity check failed: .+|database disk image is malformed)$/,
  },
  {
    name: "not an SQLite file at all",
    damage: (p) => Deno.writeFile(p, garbage(20000)),
    reason: /^it is not an SQLite database$/,
  },
  {
    name: "a dropped table",
    damage: (p) => sql(p, "drop table leads"),
    reason: /^the table "leads" is missing$/,
  },
  {
    name: "a lost schema version",
    damage: (p) => sql(p, "delete from meta"),
    reason: /^it has no schema version /,
  },
];

Deno.test("a damaged index is named by push, push --dry-run, state and verify, and nothing is sent", async (t) => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf(2500));
    const pristine = `${dir}/pristine.db`;
    const made = await runCli(
      ["push", csv, "--campaign-id", "1", "--state", pristine, "--batch-size", "400"],
      { env },
    );
    assert.equal(made.code, 0, made.stderr);
    for (const { name, damage, reason } of DAMAGES) {
      await t.step(name, async () => {
        const index = `${dir}/${name.replace(/\W+/g, "-")}.db`;
        await Deno.copyFile(pristine, index);
        await damage(index);
        const before = countRequests(sb);
        const s = ["--campaign-id", "1", "--state", index];
        const runs = {
          push: await runCli(["push", csv, ...s, "--json"], { env }),
          dryRun: await runCli(["push", csv, ...s, "--dry-run", "--json"], { env }),
          state: await runCli(["state", ...s], { env }),
          verify: await runCli(["verify", ...s], { env }),
        };
        for (const [cmd, r] of Object.entries(runs)) {
          assert.equal(r.code, 2, `${cmd}: ${r.stderr}`);
          const m = /^error: the index (.+?) is damaged: (.+) — (.+)$/m.exec(r.stderr);
          assert.ok(m, `${cmd}: ${r.stderr}`);
          assert.equal(m[1], index);
          assert.match(m[2]!, reason, cmd);
          assert.equal(m[3], HINT);
        }
        const after = countRequests(sb);
        assert.deepEqual([after.adds, after.updates, after.deletes], [
          before.adds,
          before.updates,
          before.deletes,
        ]);
      });
    }
  });
});

Deno.test("an index from a newer smartlead-sync is refused by state too", async () => {
  await withSandbox({}, async ({ dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf(3));
    const index = `${dir}/idx.db`;
    const s = ["--campaign-id", "1", "--state", index];
    assert.equal((await runCli(["push", csv, ...s], { env })).code, 0);
    sql(index, "update meta set value = '99' where key = 'schema_version'");
    for (const args of [["state", ...s], ["push", csv, ...s], ["verify", ...s]]) {
      const r = await runCli(args, { env });
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `^error: the index ${index} has schema version 99, newer than this smartlead-sync reads \\(${SCHEMA_VERSION}\\) — upgrade smartlead-sync\\n$`,
          "m",
        ),
      );
    }
  });
});

Deno.test("verify --repair moves a damaged index aside and rebuilds it from the campaign", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf(30));
    await Deno.mkdir(`${dir}/idx`);
    const index = `${dir}/idx/leads.db`;
    const s = ["--campaign-id", "1", "--state", index];
    assert.equal((await runCli(["push", csv, ...s], { env })).code, 0);
    await Deno.truncate(index, 0);

    const repaired = await runCli(["verify", ...s, "--repair", "--json"], { env });
    assert.equal(repaired.code, 0, repaired.stderr);
    const aside = new RegExp(
      `^the index ${index} is damaged \\(the file is empty \\(0 bytes\\)\\): moved it to (${index}\\.damaged-\\d{8}T\\d{6}Z); rebuilding it from the campaign$`,
      "m",
    ).exec(repaired.stderr);
    assert.ok(aside, repaired.stderr);
    assert.equal((await Deno.stat(aside[1]!)).size, 0);
    const report = JSON.parse(repaired.stdout);
    assert.equal(report.in_smartlead, 30);
    assert.equal(report.repaired, true);

    const check = await runCli(["verify", ...s, "--json"], { env });
    assert.equal(check.code, 0, check.stderr);
    const clean = JSON.parse(check.stdout);
    assert.deepEqual([clean.in_index, clean.missing_from_index, clean.missing_from_smartlead], [
      30,
      [],
      [],
    ]);
    // The rebuilt index knows every lead: the next run adds none of them again.
    const plan = await runCli(["push", csv, ...s, "--dry-run", "--json"], { env });
    assert.equal(plan.code, 0, plan.stderr);
    assert.equal((summaryOf(plan).planned as { add: number }).add, 0);
    assert.equal(sb.state.campaignLeads(1).length, 30);
  });
});

Deno.test("IndexStore: damage is an IndexDamagedError (exit 2), a new index is never 0 bytes", async () => {
  const dir = await tempDir();
  try {
    const path = `${dir}/x.db`;
    await Deno.writeFile(path, new Uint8Array(0));
    assert.throws(() => new IndexStore(path), (e) => {
      assert.ok(e instanceof IndexDamagedError);
      assert.equal(e.exitCode, 2);
      assert.equal(e.reason, "the file is empty (0 bytes)");
      return true;
    });
    await Deno.remove(path);
    new IndexStore(path).close();
    assert.ok((await Deno.stat(path)).size > 0);
    assert.deepEqual(
      (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort(),
      ["x.db"],
    );
    new IndexStore(path, { readOnly: true }).close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
