/**
 * The streaming planner against the reference planner (tests/reference_planner.ts, itself
 * checked against `IndexStore.plan()`), on random indexes and inputs with duplicates,
 * changes, rejects, previously refused and pending leads; and the send protocol (batches,
 * commits, held duplicates, checkpoints) in a simulated run with random timing.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { emailFingerprint, parseHashHex } from "../lib/engine/fingerprint.ts";
import { FingerprintTable } from "../lib/engine/fingerprint_table.ts";
import { HAS_LEAD_ID, statusBits } from "../lib/engine/flags.ts";
import { putIndexed } from "../lib/engine/index_load.ts";
import { type ActionBatch, type LeadInput, Planner } from "../lib/engine/planner.ts";
import { IndexStore, type LeadStatus } from "../lib/index/store.ts";
import { referencePlan, type RefIndexed, type RefRow } from "./reference_planner.ts";

const EMAILS = Array.from({ length: 10 }, (_, i) => `lead${i}@x.io`);
const HASHES = ["00000000000000a1", "00000000000000a2", "00000000000000a3"];

interface Case {
  index: Map<string, RefIndexed>;
  rows: RefRow[];
  fullRefresh: boolean;
  retryRejected: boolean;
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  index: fc.array(
    fc.record({
      e: fc.constantFrom(...EMAILS),
      hash: fc.constantFrom(...HASHES),
      status: fc.constantFrom<LeadStatus>("synced", "synced", "rejected", "pending"),
      leadId: fc.option(fc.integer({ min: 1, max: 99 }), { nil: null }),
    }),
    { maxLength: 10 },
  ),
  rows: fc.array(
    fc.oneof(
      {
        arbitrary: fc.record({
          kind: fc.constant("lead" as const),
          email: fc.constantFrom(...EMAILS),
          hash: fc.constantFrom(...HASHES),
        }),
        weight: 8,
      },
      {
        arbitrary: fc.record({
          kind: fc.constant("keep" as const),
          email: fc.constantFrom(...EMAILS),
        }),
        weight: 1,
      },
      { arbitrary: fc.constant({ kind: "reject" as const }), weight: 1 },
    ),
    { maxLength: 40 },
  ),
  fullRefresh: fc.boolean(),
  retryRejected: fc.boolean(),
}).map((r) => ({
  index: new Map(r.index.map((x) => [x.e, { hash: x.hash, status: x.status, leadId: x.leadId }])),
  rows: r.rows,
  fullRefresh: r.fullRefresh,
  retryRejected: r.retryRejected,
}));

/** A table holding the index, as `loadIndex` leaves it. */
function tableOf(index: ReadonlyMap<string, RefIndexed>): FingerprintTable {
  const table = new FingerprintTable();
  const fp = new Uint32Array(2);
  const h = new Uint32Array(2);
  for (const [email, l] of index) {
    emailFingerprint(email, fp);
    assert.equal(parseHashHex(l.hash, 0, h), true);
    putIndexed(table, fp, h, statusBits(l.status) | (l.leadId !== null ? HAS_LEAD_ID : 0));
  }
  return table;
}

function input(email: string, hash: string): LeadInput {
  const h = new Uint32Array(2);
  parseHashHex(hash, 0, h);
  return { email, hash: h, payload: () => JSON.stringify({ email, v: hash }) };
}

function planner(
  c: Case,
  emit: boolean,
  sizes = { add: 3, update: 2 },
  clock = { t: 0 },
  holdUpdates = 0,
) {
  return new Planner({
    table: tableOf(c.index),
    fullRefresh: c.fullRefresh,
    retryRejected: c.retryRejected,
    emit,
    addBatchSize: sizes.add,
    updateBatchSize: sizes.update,
    maxAgeMs: 100,
    now: () => clock.t,
    holdUpdates,
  });
}

Deno.test("the reference planner agrees with IndexStore.plan() (the SQL it models)", () => {
  fc.assert(
    fc.property(caseArb, (c) => {
      const store = new IndexStore(":memory:");
      try {
        store.record(
          [...c.index].map(([email, l]) => ({
            email,
            hash: l.hash,
            status: l.status,
            origin: "tool" as const,
            leadId: l.leadId,
          })),
        );
        store.stage(
          c.rows.flatMap((r, i) =>
            r.kind === "lead"
              ? [{
                email: r.email,
                hash: r.hash,
                source: "t",
                line: i + 1,
                payload: "{}",
                leadId: null,
              }]
              : []
          ),
        );
        store.keep(c.rows.flatMap((r) => (r.kind === "keep" ? [r.email] : [])));
        const opts = { fullRefresh: c.fullRefresh, retryRejected: c.retryRejected };
        const got = store.plan({ ...opts, deleteMissing: true });
        const ref = referencePlan(c.index, c.rows, opts);
        assert.deepEqual(
          {
            add: got.add,
            update: got.update,
            unchanged: got.unchanged,
            skippedRejected: got.skippedRejected,
          },
          ref.counts,
        );
        assert.equal(store.stagedTotal - store.stagedDistinct(), ref.duplicates);
        for (const kind of ["add", "update"] as const) {
          const planned = [...store.planned(kind, 1000)].flat().map((l) => `${l.email} ${l.hash}`)
            .sort();
          const want = [...ref.actions].filter(([, a]) => a.action === kind).map(([e, a]) =>
            `${e} ${a.hash}`
          )
            .sort();
          assert.deepEqual(planned, want);
        }
        assert.deepEqual(store.missing({ foreign: true }).map((l) => l.email), ref.missing);
      } finally {
        store.close();
      }
    }),
    { numRuns: 300 },
  );
});

Deno.test("dry run (decide and count only): the planner agrees with the reference planner", () => {
  fc.assert(
    fc.property(caseArb, (c) => {
      const p = planner(c, false);
      c.rows.forEach((r, i) => {
        if (r.kind === "lead") assert.equal(p.add(input(r.email, r.hash), "t", i + 1, i + 1), true);
        else if (r.kind === "keep") p.keep(r.email);
      });
      p.finish();
      assert.equal(p.take(), undefined);
      assert.equal(p.idle, true);
      const ref = referencePlan(c.index, c.rows, c);
      const { duplicates, resent, ...counts } = p.counts;
      assert.deepEqual(counts, ref.counts);
      assert.equal(duplicates, ref.duplicates);
      assert.equal(resent, 0);
      const absent = [...c.index.keys()].filter((e) => p.isAbsent(e)).sort();
      assert.deepEqual(absent, ref.absent);
      assert.deepEqual(absent.filter((e) => c.index.get(e)!.status === "synced"), ref.missing);
    }),
    { numRuns: 1000 },
  );
});

/**
 * A run with random timing: batches are taken, answered (synced or refused) and settled at
 * random points between rows. Checks, besides the outcome: never two versions of one lead
 * in flight; every checkpoint `lowWater()` allows is safe (each email whose last row so far
 * is below it has nothing left to send); at the end the last version sent of every lead is
 * its last row's, and every lead the reference plans to send was sent.
 */
Deno.test("sending run: later rows win, checkpoints are safe, nothing is held to the end", () => {
  const scheduleArb = fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 41, maxLength: 41 });
  fc.assert(
    fc.property(
      caseArb,
      scheduleArb,
      fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }),
      fc.record({ add: fc.integer({ min: 1, max: 4 }), update: fc.integer({ min: 1, max: 3 }) }),
      fc.constantFrom(0, 0, 1, 3, 1000),
      (c, schedule, refusals, sizes, hold) => {
        const clock = { t: 0 };
        const p = planner(c, true, sizes, clock, hold);
        const model = new Map(c.index);
        const sent = new Map<string, string[]>();
        const latest = new Map<string, { hash: string; ordinal: number }>();
        let inflight: ActionBatch[] = [];
        let answers = 0;
        let nextId = 1000;
        const take = () => {
          for (let b = p.take(); b !== undefined; b = p.take()) {
            const flying = new Set(inflight.flatMap((x) => x.leads.map((l) => l.email)));
            for (const l of b.leads) {
              assert.equal(flying.has(l.email), false, `${l.email} twice in flight`);
              flying.add(l.email);
            }
            inflight.push(b);
          }
        };
        const settle = (i: number) => {
          const b = inflight[i];
          if (b === undefined) return;
          inflight = inflight.filter((x) => x !== b);
          const outcomes = b.leads.map((l) => {
            const refused = refusals[answers++ % refusals.length]!;
            const before = model.get(l.email);
            const leadId = refused ? (before?.leadId ?? null) : (before?.leadId ?? nextId++);
            const status: LeadStatus = refused ? "rejected" : "synced";
            model.set(l.email, { hash: l.hash, status, leadId });
            sent.set(l.email, [...(sent.get(l.email) ?? []), l.hash]);
            return { email: l.email, hash: l.hash, status, leadId };
          });
          p.committed(outcomes);
          p.settled(b.id);
          checkpoint();
        };
        const done = (email: string) => {
          const last = latest.get(email)!;
          const s = sent.get(email);
          if (s !== undefined) return s[s.length - 1] === last.hash;
          const l = model.get(email);
          if (l === undefined || c.fullRefresh) return false;
          if (l.status === "synced") return l.hash === last.hash;
          if (l.status === "pending") return false;
          return !c.retryRejected && l.hash === last.hash;
        };
        const checkpoint = () => {
          const low = p.lowWater();
          for (const [email, last] of latest) {
            if (last.ordinal < low) assert.ok(done(email), `${email} below the checkpoint ${low}`);
          }
        };
        const step = (s: number) => {
          if (s === 4) {
            clock.t += 150;
            p.flushDue();
          } else if (s === 5 || s === 6) take();
          else if (s === 7) settle(0);
          else if (s >= 8) settle(inflight.length - 1);
        };
        c.rows.forEach((r, i) => {
          if (r.kind === "lead") {
            latest.set(r.email, { hash: r.hash, ordinal: i + 1 });
            assert.equal(p.add(input(r.email, r.hash), "t", i + 1, i + 1), true);
          } else if (r.kind === "keep") p.keep(r.email);
          step(schedule[i]!);
        });
        p.finish();
        for (let guard = 0; !p.idle || inflight.length > 0; guard++) {
          assert.ok(guard < 1000, "the run does not end");
          take();
          settle(schedule[guard % schedule.length]! % 2 === 0 ? 0 : inflight.length - 1);
        }
        assert.equal(p.lowWater(), Infinity);
        const ref = referencePlan(c.index, c.rows, c);
        for (const [email, last] of latest) {
          assert.ok(done(email), `${email} not done at the end`);
          assert.equal(model.get(email)?.hash ?? last.hash, last.hash);
          const a = ref.actions.get(email)!;
          if (a.action === "add" || a.action === "update") {
            assert.ok(sent.has(email), `${email} never sent`);
          }
        }
        const { add, update, unchanged, skippedRejected, duplicates } = p.counts;
        assert.equal(add + update + unchanged + skippedRejected, latest.size);
        assert.equal(duplicates, ref.duplicates);
      },
    ),
    { numRuns: 1000 },
  );
});

Deno.test("planner: the documented cases, step by step", async (t) => {
  const index = new Map<string, RefIndexed>([
    ["old@x.io", { hash: HASHES[0]!, status: "synced", leadId: 7 }],
    ["gone@x.io", { hash: HASHES[0]!, status: "synced", leadId: 8 }],
    ["kept@x.io", { hash: HASHES[0]!, status: "synced", leadId: 9 }],
  ]);
  const c: Case = { index, rows: [], fullRefresh: false, retryRejected: false };

  await t.step(
    "a duplicate still in the open batch replaces it; one that needs nothing removes it",
    () => {
      const p = planner(c, true, { add: 10, update: 10 });
      p.add(input("new@x.io", HASHES[0]!), "t", 2, 1);
      p.add(input("old@x.io", HASHES[1]!), "t", 3, 2); // update
      p.add(input("new@x.io", HASHES[1]!), "t", 4, 3); // replaces the add
      p.add(input("old@x.io", HASHES[0]!), "t", 5, 4); // back to the indexed version: nothing
      assert.deepEqual(p.counts, {
        add: 1,
        update: 0,
        unchanged: 1,
        skippedRejected: 0,
        duplicates: 2,
        resent: 0,
      });
      p.finish();
      const b = p.take()!;
      assert.deepEqual(b.leads.map((l) => [l.email, l.hash, l.action, l.line]), [[
        "new@x.io",
        HASHES[1],
        "add",
        4,
      ]]);
      assert.equal(p.take(), undefined);
      assert.equal(p.lowWater(), 3);
      p.settled(b.id);
      assert.equal(p.lowWater(), Infinity);
      assert.equal(p.idle, true);
    },
  );

  await t.step("a duplicate of a lead in flight is held, then sent after the commit", () => {
    const p = planner(c, true, { add: 1, update: 1 });
    p.add(input("new@x.io", HASHES[0]!), "t", 2, 1);
    const first = p.take()!;
    p.add(input("new@x.io", HASHES[1]!), "t", 3, 2);
    p.add(input("new@x.io", HASHES[2]!), "t", 4, 3); // the later held row wins
    assert.equal(p.take(), undefined); // held, not sent beside the first
    assert.equal(p.lowWater(), 1);
    p.committed([{ email: "new@x.io", hash: HASHES[0]!, status: "synced", leadId: 50 }]);
    p.settled(first.id);
    assert.equal(p.lowWater(), 3);
    const again = p.take()!;
    assert.deepEqual(again.leads.map((l) => [l.hash, l.action, l.hasLeadId]), [[
      HASHES[2],
      "update",
      true,
    ]]);
    assert.deepEqual(p.counts, {
      add: 0,
      update: 1,
      unchanged: 0,
      skippedRejected: 0,
      duplicates: 2,
      resent: 1,
    });
  });

  await t.step("batches are handed out by size and by age", () => {
    const clock = { t: 0 };
    const p = planner(c, true, { add: 2, update: 5 }, clock);
    p.add(input("a@x.io", HASHES[0]!), "t", 1, 1);
    assert.equal(p.take(), undefined);
    p.add(input("b@x.io", HASHES[0]!), "t", 2, 2);
    assert.equal(p.take()!.leads.length, 2); // full
    p.add(input("c@x.io", HASHES[0]!), "t", 3, 3);
    clock.t = 99;
    p.flushDue();
    assert.equal(p.take(), undefined);
    clock.t = 100;
    p.flushDue();
    assert.deepEqual(p.take()!.leads.map((l) => l.email), ["c@x.io"]);
  });

  await t.step(
    "updates are kept back to the end of input: an earlier duplicate is never sent",
    () => {
      const p = planner(c, true, { add: 1, update: 1 }, { t: 0 }, 2);
      p.add(input("old@x.io", HASHES[1]!), "t", 1, 1); // an earlier row of a lead the index has
      p.add(input("kept@x.io", HASHES[1]!), "t", 2, 2); // a real change
      assert.equal(p.take(), undefined); // both kept back, though batches hold one
      assert.equal(p.lowWater(), 1);
      p.add(input("old@x.io", HASHES[0]!), "t", 3, 3); // the later row restores the indexed one
      assert.equal(p.take(), undefined);
      p.add(input("gone@x.io", HASHES[1]!), "t", 4, 4);
      p.add(input("x1@x.io", HASHES[1]!), "t", 5, 5); // an add goes out at once
      assert.deepEqual(p.take()!.leads.map((l) => l.email), ["x1@x.io"]);
      p.finish();
      const sent = [p.take()!, p.take()!].map((b) => b.leads.map((l) => [l.email, l.action]));
      assert.deepEqual(sent, [[["kept@x.io", "update"]], [["gone@x.io", "update"]]]);
      assert.equal(p.take(), undefined);
    },
  );

  await t.step("past holdUpdates, the oldest kept-back update goes out", () => {
    const p = planner(c, true, { add: 1, update: 1 }, { t: 0 }, 1);
    p.add(input("old@x.io", HASHES[1]!), "t", 1, 1);
    assert.equal(p.take(), undefined);
    p.add(input("kept@x.io", HASHES[1]!), "t", 2, 2);
    assert.deepEqual(p.take()!.leads.map((l) => l.email), ["old@x.io"]);
    assert.equal(p.take(), undefined);
    assert.equal(p.lowWater(), 1); // old@ is in flight
  });

  await t.step("absent: neither a valid row nor a kept rejected row had the email", () => {
    const p = planner(c, false);
    p.add(input("old@x.io", HASHES[0]!), "t", 1, 1);
    p.keep("kept@x.io");
    assert.equal(p.isAbsent("old@x.io"), false);
    assert.equal(p.isAbsent("kept@x.io"), false);
    assert.equal(p.isAbsent("gone@x.io"), true);
    assert.equal(p.isAbsent("never@x.io"), true);
  });

  await t.step("a full table refuses a new email and plans nothing for it", () => {
    const p = new Planner({
      table: new FingerprintTable({ maxBytes: 16 * 21 }),
      fullRefresh: false,
      retryRejected: false,
      emit: false,
      addBatchSize: 10,
      updateBatchSize: 10,
      maxAgeMs: 100,
      now: () => 0,
      holdUpdates: 0,
    });
    let accepted = 0;
    while (p.add(input(`l${accepted}@x.io`, HASHES[0]!), "t", 1, accepted + 1)) accepted++;
    assert.equal(accepted, 12); // 16 slots at a load of 3/4
    assert.equal(p.counts.add, 12);
    assert.equal(p.add(input("l0@x.io", HASHES[1]!), "t", 1, 99), true); // a known email still plans
  });
});
