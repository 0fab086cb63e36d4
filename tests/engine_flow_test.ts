/**
 * The engine's read loop (rows → compiled mapper → planner), parsing in this thread or in
 * the worker, against the current pipeline (validateRows → stage → IndexStore.plan()) on the
 * test files and a generated file with duplicates: the same rows, rejects (reason, line,
 * row), plan counts, duplicates and absent leads, against an index holding every status.
 */
import assert from "node:assert/strict";
import { leadCsv } from "../bench/gen.ts";
import { FingerprintTable } from "../lib/engine/fingerprint_table.ts";
import { planRows } from "../lib/engine/flow.ts";
import { loadIndex } from "../lib/engine/index_load.ts";
import { Mappers } from "../lib/engine/mappers.ts";
import { Planner } from "../lib/engine/planner.ts";
import { threadRows, workerRows } from "../lib/engine/worker_rows.ts";
import { IndexStore, type StagedLead } from "../lib/index/store.ts";
import { readRows } from "../lib/input/parse.ts";
import { resolveInputs } from "../lib/input/source.ts";
import { parseMapFlags } from "../lib/mapping.ts";
import type { Reject } from "../lib/pipeline/rejects.ts";
import { toStaged } from "../lib/pipeline/stage.ts";
import { validateRows } from "../lib/pipeline/validate.ts";
import { TESTDATA } from "./helpers.ts";

const OPTS = { map: parseMapFlags([]), tags: ["vip"] };

async function currentPath(files: string[]) {
  const rejects: Reject[] = [];
  const staged: StagedLead[] = [];
  const keep: string[] = [];
  let rows = 0;
  for await (const batch of validateRows(readRows(await resolveInputs(files)), OPTS)) {
    for (const c of batch) {
      rows++;
      if (c.ok) staged.push(toStaged(c));
      else {
        if (c.email !== undefined) keep.push(c.email);
        rejects.push({ source: c.source, line: c.line, reason: c.reason, row: c.row });
      }
    }
  }
  return { rows, rejects, staged, keep };
}

/** An index where the input's leads have every status, and some leads are not in the input. */
function indexFor(staged: readonly StagedLead[]): IndexStore {
  const store = new IndexStore(":memory:");
  const seen = new Set<string>();
  const outcomes = [];
  for (const [i, s] of staged.entries()) {
    if (seen.has(s.email)) continue;
    seen.add(s.email);
    const k = i % 5;
    if (k === 4) continue;
    const hash = k === 1 ? "00000000000000ff" : s.hash;
    const status = k === 2 ? "rejected" as const : k === 3 ? "pending" as const : "synced" as const;
    outcomes.push({
      email: s.email,
      hash,
      status,
      origin: "tool" as const,
      leadId: i % 2 ? i : null,
    });
  }
  for (let i = 0; i < 7; i++) {
    outcomes.push({
      email: `gone${i}@x.io`,
      hash: "0000000000000001",
      status: i % 3 ? "synced" as const : "rejected" as const,
      origin: "tool" as const,
      leadId: null,
    });
  }
  store.record(outcomes);
  return store;
}

async function compare(files: string[], retryRejected: boolean) {
  let want: Awaited<ReturnType<typeof currentPath>> | undefined;
  let wantError: string | undefined;
  try {
    want = await currentPath(files);
  } catch (e) {
    wantError = (e as Error).message;
  }
  for (const parse of [threadRows, workerRows]) {
    const store = indexFor(want?.staged ?? []);
    try {
      store.stage(want?.staged ?? []);
      store.keep(want?.keep ?? []);
      const plan = store.plan({ fullRefresh: false, retryRejected, deleteMissing: true });
      const table = new FingerprintTable();
      loadIndex(store.db, table);
      const planner = new Planner({
        table,
        fullRefresh: false,
        retryRejected,
        emit: false,
        addBatchSize: 100,
        updateBatchSize: 100,
        maxAgeMs: 1000,
        now: () => 0,
        holdUpdates: 0,
      });
      const rejects: Reject[] = [];
      let stats;
      try {
        stats = await planRows(parse(await resolveInputs(files)), {
          mappers: new Mappers(OPTS.map, OPTS.tags),
          planner,
          reject: (r) => rejects.push(r),
        });
      } catch (e) {
        assert.equal((e as Error).message, wantError, parse.name);
        continue;
      }
      assert.equal(wantError, undefined);
      assert.deepEqual(
        {
          rows: stats.rows,
          valid: stats.valid,
          rejected: stats.rejected,
          overflowAt: stats.overflowAt,
        },
        {
          rows: want!.rows,
          valid: want!.staged.length,
          rejected: want!.rejects.length,
          overflowAt: undefined,
        },
      );
      assert.deepEqual(rejects, want!.rejects);
      const { resent: _, ...counts } = planner.counts;
      assert.deepEqual(counts, {
        add: plan.add,
        update: plan.update,
        unchanged: plan.unchanged,
        skippedRejected: plan.skippedRejected,
        duplicates: store.stagedTotal - store.stagedDistinct(),
      });
      const absent = [...store.all()].filter((l) =>
        l.status === "synced" && planner.isAbsent(l.email)
      );
      assert.deepEqual(
        absent.map((l) => l.email),
        store.missing({ foreign: true }).map((l) => l.email),
      );
    } finally {
      store.close();
    }
  }
}

Deno.test("engine read loop = current pipeline, on the test files", async (t) => {
  for (
    const f of [
      "messy.csv",
      "hostile/rows_problems.csv",
      "hostile/mixed.ndjson",
      "hostile/malformed_quotes.csv",
      "hostile/latin1_names.csv",
      "hostile/no_email_column.csv",
      "hostile/unclosed_quote.csv",
    ]
  ) {
    await t.step(f, () => compare([`${TESTDATA}/${f}`], f.includes("rows")));
  }
});

Deno.test("engine read loop = current pipeline, 5,000 generated rows with duplicates, two files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/a.csv`,
      [...leadCsv({ rows: 5000, duplicateRate: 0.05, invalidRate: 0.01, seed: 3 })].join(""),
    );
    await Deno.writeTextFile(
      `${dir}/b.csv`,
      [...leadCsv({ rows: 500, duplicateRate: 0.05, seed: 3 })].join(""),
    );
    await compare([`${dir}/a.csv`, `${dir}/b.csv`], false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
