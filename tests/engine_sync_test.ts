/**
 * The streaming engine against the sandbox over HTTP, at the library level: checkpoints a
 * protocol front end may release (a STATE message after row N) only once the leads before
 * it are in the campaign; a lead sent twice in one run counted once; the overflow path
 * (past the table's cap, on-disk staging) and index lookups per batch giving the same
 * outcome as the plain path; the parse worker under push().
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { SmartleadClient } from "../lib/client/smartlead.ts";
import { BYTES_PER_SLOT } from "../lib/engine/fingerprint_table.ts";
import { type Checkpoint, type EngineOptions, SyncEngine } from "../lib/engine/sync.ts";
import { type RowBatch, rowBatch } from "../lib/engine/worker_rows.ts";
import { IndexStore } from "../lib/index/store.ts";
import type { Row } from "../lib/input/row.ts";
import { RejectsWriter } from "../lib/pipeline/rejects.ts";
import { buildSummary, type Summary } from "../lib/pipeline/report.ts";
import { Sender } from "../lib/pipeline/send.ts";
import { RunStats } from "../lib/pipeline/stats.ts";
import { push, type PushOptions } from "../lib/push.ts";
import type { Sandbox } from "../lib/sandbox/server.ts";
import { assertIdentities, withSandbox } from "./helpers.ts";

const FAST = { requests: 10_000, windowMs: 1000 };

/** What a front end builds around the engine: client, index, rejects, sender. */
async function session(
  sb: Sandbox,
  dir: string,
  over: Partial<EngineOptions> = {},
) {
  const client = new SmartleadClient({ apiKey: sb.apiKey, baseUrl: sb.url, rate: FAST });
  const store = new IndexStore(`${dir}/index.db`);
  const rejects = await RejectsWriter.open(undefined);
  const stats = new RunStats();
  const newSender = (counts: RunStats) =>
    new Sender({ client, store, campaignId: 1, settings: {}, stats: counts, rejects });
  const engine = new SyncEngine({
    store,
    stats,
    sender: newSender(stats),
    resender: newSender,
    map: [],
    tags: [],
    fullRefresh: false,
    retryRejected: false,
    batchSize: 5,
    concurrency: 2,
    maxAgeMs: 20,
    holdUpdates: 0,
    reject: (r) => rejects.write(r),
    ...over,
  });
  const summary = (): Summary => {
    engine.syncStats();
    return buildSummary(stats, {
      campaignId: 1,
      mode: "incremental",
      dryRun: false,
      requests: client.requests,
      retries: client.retries,
      waitedMs: 0,
      rejectsPath: undefined,
      indexPath: undefined,
      startedAt: 0,
      exitCode: 0,
    });
  };
  return { engine, store, stats, summary, close: () => (engine.close(), store.close()) };
}

const record = (email: string, title: string): Row => ({
  source: "stream",
  line: 0,
  columns: ["email", "Title"],
  values: [email, title],
});

async function until(what: string, f: () => boolean): Promise<void> {
  for (let i = 0; !f(); i++) {
    if (i > 3000) throw new Error(`never: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("a checkpoint after row N is released only once every lead up to row N is in the campaign", async () => {
  await withSandbox({ latencyMs: 30 }, async ({ sb, dir }) => {
    // Records as a protocol stream sends them, with a STATE message after each chunk; some
    // repeat an earlier email with a change, some are invalid.
    const chunks: Row[][] = [];
    for (let c = 0; c < 6; c++) {
      const rows: Row[] = [];
      for (let i = 0; i < 7; i++) rows.push(record(`c${c}r${i}@ex.com`, `T${c}`));
      if (c > 0) rows.push(record(`c${c - 1}r1@ex.com`, `changed in ${c}`));
      if (c % 2 === 0) rows.push(record(`not an email ${c}`, "x"));
      chunks.push(rows);
    }
    const states: Array<{ after: number; id: number }> = [];
    const released: number[] = [];
    const lastRow = new Map<string, number>();
    const rows: Row[] = chunks.flat();
    rows.forEach((r, i) => lastRow.set(String(r.values[0]), i + 1));
    let given = 0;
    let failed = false;
    const s = await session(sb, dir, {
      onCommitted: (c: Checkpoint) => {
        failed = true; // until the checks below pass (a failure stops the run)
        while (states.length > 0 && states[0]!.after < c.lowWater && states[0]!.after <= c.rows) {
          const st = states.shift()!;
          // Every valid lead of rows 1..after is in the campaign and recorded as synced, but
          // for a row replaced by a later one already given (the later row carries it on: a
          // source resuming after this state sends that row again).
          const inCampaign = new Set(sb.state.campaignLeads(1).map((l) => l.email));
          const later = new Set(rows.slice(st.after, c.rows).map((r) => String(r.values[0])));
          for (let i = 0; i < st.after; i++) {
            const email = String(rows[i]!.values[0]);
            if (!email.includes("@") || later.has(email)) continue;
            assert.ok(inCampaign.has(email), `state ${st.id}: ${email} not in the campaign yet`);
            assert.equal(s.store.lookup(email)?.status, "synced", `state ${st.id}: ${email}`);
          }
          released.push(st.id);
        }
        failed = false;
      },
    });
    try {
      const stream = async function* (): AsyncGenerator<RowBatch> {
        for (const [c, chunk] of chunks.entries()) {
          yield rowBatch(chunk);
          given += chunk.length;
          states.push({ after: given, id: c });
          // The stream waits for the checkpoint before sending more (as a target whose
          // source is slow would): it must come while reading, not only at the end.
          if (c < 2) await until(`state ${c} released`, () => released.includes(c) || failed);
        }
      };
      await s.engine.read(stream());
      s.engine.plan();
      await s.engine.send();
      assert.deepEqual(released, [0, 1, 2, 3, 4, 5]);
      assert.equal(s.engine.lowWater(), Infinity);
      const summary = s.summary();
      assertIdentities(summary as unknown as Record<string, unknown>);
      // The last version of each lead is the one in the campaign.
      const byEmail = new Map(sb.state.campaignLeads(1).map((l) => [l.email, l]));
      for (const [email, at] of lastRow) {
        if (!email.includes("@")) continue;
        assert.equal(byEmail.get(email)?.custom_fields.Title, rows[at - 1]!.values[1], email);
      }
      assert.equal(byEmail.size, 42);
      assert.deepEqual([summary.rows, summary.rejected, summary.duplicates_in_input], [
        rows.length,
        3,
        5,
      ]);
    } finally {
      s.close();
    }
  });
});

Deno.test("a lead changed by a later row after its first version went out is sent again and counted once", async () => {
  await withSandbox({}, async ({ sb, dir }) => {
    const s = await session(sb, dir, { concurrency: 1 });
    try {
      const stream = async function* (): AsyncGenerator<RowBatch> {
        yield rowBatch([0, 1, 2, 3, 4].map((i) => record(`a${i}@ex.com`, "first")));
        // A full batch goes out; the later row arrives once it has reached Smartlead.
        await until("the first batch sent", () => sb.state.campaignLeads(1).length === 5);
        yield rowBatch([record("a2@ex.com", "second"), record("b@ex.com", "new")]);
      };
      await s.engine.read(stream());
      s.engine.plan();
      await s.engine.send();
      const summary = s.summary();
      assertIdentities(summary as unknown as Record<string, unknown>);
      assert.deepEqual(
        [summary.valid, summary.added, summary.updated, summary.duplicates_in_input],
        [6, 6, 0, 1],
      );
      assert.equal(s.engine.planner.counts.resent, 1);
      const a2 = sb.state.campaignLeads(1).find((l) => l.email === "a2@ex.com")!;
      assert.deepEqual([a2.custom_fields.Title, a2.writes], ["second", 2]);
    } finally {
      s.close();
    }
  });
});

/** The index as rows (email, hash, status), for comparing two runs. */
function indexRows(path: string): string[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return (db.prepare("select email, hash, status, origin from leads order by email").all())
      .map((r) => JSON.stringify(r));
  } finally {
    db.close();
  }
}

function leadCsv(rows: Array<[string, string]>): string {
  return "email,title\n" + rows.map(([e, t]) => `${e},${t}`).join("\n") + "\n";
}

interface Outcome {
  summary: Record<string, unknown>;
  campaign: string[];
  index: string[];
  /** The engine's own account of the second run (push's debug line). */
  engine: string;
}

/**
 * Runs the same two pushes (a first sync, then a changed input with duplicates, rejects
 * and leads gone) with the given engine settings; returns what a comparison needs.
 */
async function twoRuns(
  engine: PushOptions["engine"],
  second: Partial<PushOptions>,
): Promise<Outcome> {
  let out: Outcome | undefined;
  await withSandbox({}, async ({ sb, dir }) => {
    const first: Array<[string, string]> = [];
    for (let i = 100; i < 250; i++) first.push([`p${i}@ex.com`, "old"]);
    await Deno.writeTextFile(`${dir}/first.csv`, leadCsv(first));
    const rows: Array<[string, string]> = [];
    for (let i = 0; i < 200; i++) rows.push([`p${i}@ex.com`, i % 3 === 0 ? "new" : "old"]);
    for (let i = 0; i < 200; i += 4) rows.push([`p${i}@ex.com`, `again ${i % 8}`]);
    rows.push(["not-an-email", "x"], [`p120@ex.com`, "y".repeat(10_001)]);
    await Deno.writeTextFile(`${dir}/second.csv`, leadCsv(rows));
    const base = {
      campaignId: 1,
      apiKey: sb.apiKey,
      baseUrl: sb.url,
      state: `${dir}/state`,
      rate: FAST,
      batchSize: 10,
      ...(engine ? { engine } : {}),
    };
    await push({ ...base, inputs: [`${dir}/first.csv`] });
    const debug: string[] = [];
    const summary = await push({
      ...base,
      inputs: [`${dir}/second.csv`],
      debug: (line) => debug.push(line),
      ...second,
    });
    const { duration_ms: _d, index: path, ...rest } = summary;
    assertIdentities(summary as unknown as Record<string, unknown>);
    out = {
      summary: rest,
      campaign: sb.state.campaignLeads(1).map((l) =>
        JSON.stringify([l.email, l.custom_fields.Title, l.first_name])
      ).sort(),
      index: indexRows(path!),
      engine: debug.find((l) => l.startsWith("engine: ")) ?? "",
    };
  });
  return out!;
}

Deno.test("past the table's cap rows are staged on disk, and index lookups per batch: the same outcome", async (t) => {
  // The first run indexes 150 leads; the second input has 201 emails.
  const small = { tableBytes: 64 * BYTES_PER_SLOT }; // 48 keys: lookups, then staging
  const lookups = { indexMode: "lookup" as const };
  for (
    const [name, second] of [
      ["incremental", {}],
      ["full refresh", { mode: "full-refresh" as const }],
      ["--delete-missing", { deleteMissing: true, maxDeletes: { percent: 100 } }],
      ["--retry-rejected --max-rejects 5%", { retryRejected: true, maxRejects: { percent: 5 } }],
    ] as Array<[string, Partial<PushOptions>]>
  ) {
    await t.step(name, async () => {
      const plain = await twoRuns(undefined, second);
      const planFirst = "deleteMissing" in second || "maxRejects" in second;
      assert.match(
        plain.engine,
        planFirst
          ? /^engine: index none, .*, 2\d\d rows staged/
          : /^engine: index load, .*, 0 rows staged/,
      );
      // Requests differ: the staged part never resends a lead a later row changed.
      const { requests: _r, smartlead: _s, ...want } = plain.summary;
      for (const engine of [small, lookups]) {
        const other = await twoRuns(engine, second);
        if (!planFirst) {
          assert.match(
            other.engine,
            engine === small
              ? /^engine: index lookup, table 0\.0 MB, [1-9]\d* rows staged/
              : /^engine: index lookup, table \d+\.\d MB, 0 rows staged/,
          );
        }
        const { requests: _r2, smartlead: _s2, ...got } = other.summary;
        assert.deepEqual(got, want);
        assert.deepEqual(other.campaign, plain.campaign);
        assert.deepEqual(other.index, plain.index);
      }
    });
  }
});

Deno.test("push() with the parse worker: the same outcome as in this thread", async () => {
  const here = await twoRuns({ worker: false }, {});
  const worker = await twoRuns({ worker: true }, {});
  assert.deepEqual({ ...worker, summary: {} }, { ...here, summary: {} });
  const { requests: _a, ...w } = worker.summary;
  const { requests: _b, ...h } = here.summary;
  assert.deepEqual(w, h);
});
