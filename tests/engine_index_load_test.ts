/** Loading the index into a fingerprint table: in pages, or by lookup of given emails. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { emailFingerprint, hashHex, parseHashHex } from "../lib/engine/fingerprint.ts";
import { ABSENT, FingerprintTable } from "../lib/engine/fingerprint_table.ts";
import { HAS_LEAD_ID, KEEP, STATUS_MASK, statusBits } from "../lib/engine/flags.ts";
import { IndexLookup, loadIndex } from "../lib/engine/index_load.ts";
import { IndexStore, type LeadStatus } from "../lib/index/store.ts";

interface Entry {
  email: string;
  hash: string;
  status: LeadStatus;
  leadId: number | null;
}

const entriesArb = fc.uniqueArray(
  fc.record({
    email: fc.stringMatching(/^[a-z0-9.]{1,12}@[a-z]{1,6}\.io$/),
    hash: fc.tuple(fc.nat(), fc.nat()).map(([a, b]) => hashHex(a, b)),
    status: fc.constantFrom<LeadStatus>("synced", "rejected", "pending"),
    leadId: fc.option(fc.integer({ min: 1, max: 1e9 }), { nil: null }),
  }),
  { selector: (e) => e.email, maxLength: 60 },
);

function slotOf(table: FingerprintTable, email: string): number {
  const fp = new Uint32Array(2);
  emailFingerprint(email, fp);
  return table.find(fp[0]!, fp[1]!);
}

function check(table: FingerprintTable, e: Entry): void {
  const slot = slotOf(table, e.email);
  assert.notEqual(slot, ABSENT, e.email);
  const h = new Uint32Array(2);
  parseHashHex(e.hash, 0, h);
  assert.equal(table.hashEquals(slot, h[0]!, h[1]!), true);
  assert.equal(
    table.flags(slot) & (STATUS_MASK | HAS_LEAD_ID),
    statusBits(e.status) | (e.leadId !== null ? HAS_LEAD_ID : 0),
  );
  assert.equal(table.value(slot), 0);
}

function storeWith(entries: readonly Entry[]): IndexStore {
  const store = new IndexStore(":memory:");
  store.record(
    entries.map((e) => ({
      email: e.email,
      hash: e.hash,
      status: e.status,
      origin: "tool" as const,
      leadId: e.leadId,
    })),
  );
  return store;
}

Deno.test("loadIndex reads every lead, across pages of any size", () => {
  fc.assert(
    fc.property(entriesArb, fc.integer({ min: 1, max: 7 }), (entries, pageRows) => {
      const store = storeWith(entries);
      try {
        const table = new FingerprintTable();
        const stats = loadIndex(store.db, table, { pageRows });
        assert.deepEqual(stats, {
          leads: entries.length,
          pages: Math.ceil(entries.length / pageRows),
          collisions: 0,
          badHashes: 0,
          full: false,
        });
        assert.equal(table.size, entries.length);
        for (const e of entries) check(table, e);
      } finally {
        store.close();
      }
    }),
    { numRuns: 200 },
  );
});

Deno.test("loadIndex: a hash not written by this tool loads as one no payload can equal", () => {
  const store = storeWith([{
    email: "a@x.io",
    hash: "0123456789abcdef",
    status: "synced",
    leadId: 1,
  }]);
  try {
    store.db.exec(
      "insert into leads(email, hash, status, updated_at) values ('b@x.io', 'md5:zz', 'synced', 0)",
    );
    const table = new FingerprintTable();
    const stats = loadIndex(store.db, table);
    assert.equal(stats.leads, 2);
    assert.equal(stats.badHashes, 1);
    const slot = slotOf(table, "b@x.io");
    assert.equal(table.hashHi(slot), 0);
    assert.equal(table.hashLo(slot), 0);
  } finally {
    store.close();
  }
});

Deno.test("loadIndex stops, saying so, when the table is full", () => {
  const entries = Array.from({ length: 40 }, (_, i) => ({
    email: `l${i}@x.io`,
    hash: hashHex(i, i),
    status: "synced" as const,
    leadId: null,
  }));
  const store = storeWith(entries);
  try {
    const table = new FingerprintTable({ maxBytes: 20 * 21 });
    const stats = loadIndex(store.db, table, { pageRows: 8 });
    assert.equal(stats.full, true);
    assert.equal(stats.leads, 15); // 20 slots at a load of 3/4
  } finally {
    store.close();
  }
});

Deno.test("IndexLookup puts the index state of the emails asked, keeping the planner's bits", () => {
  fc.assert(
    fc.property(
      entriesArb,
      fc.array(fc.boolean(), { minLength: 60, maxLength: 60 }),
      (entries, ask) => {
        const store = storeWith(entries);
        try {
          const table = new FingerprintTable();
          const asked = entries.filter((_, i) => ask[i]);
          // one asked email is already in the table, marked by the planner
          const pre = asked[0];
          if (pre) {
            const fp = new Uint32Array(2);
            emailFingerprint(pre.email, fp);
            table.setFlags(table.insert(fp[0]!, fp[1]!), KEEP);
          }
          const lookup = new IndexLookup(store.db);
          const n = lookup.lookup([...asked.map((e) => e.email), "not-indexed@x.io"], table);
          assert.equal(n, asked.length);
          assert.equal(table.size, asked.length);
          for (const e of asked) check(table, e);
          if (pre) assert.equal(table.flags(slotOf(table, pre.email)) & KEEP, KEEP);
          assert.equal(slotOf(table, "not-indexed@x.io"), ABSENT);
        } finally {
          store.close();
        }
      },
    ),
    { numRuns: 100 },
  );
});
