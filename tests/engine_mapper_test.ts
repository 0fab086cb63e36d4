/**
 * The compiled mapper against the current path (planColumns + buildLead + JSON.stringify +
 * payloadHash): the same payload bytes, the same hash, the same rejects with the same reasons,
 * on random headers, overrides, tags and rows, in both the generated and interpreted forms.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { hashHex } from "../lib/engine/fingerprint.ts";
import { compileMapper, GENERATE_MAX_COLUMNS, MapOut } from "../lib/engine/mapper.ts";
import { payloadHash } from "../lib/hash.ts";
import type { Row } from "../lib/input/row.ts";
import { buildLead } from "../lib/lead.ts";
import { type ColumnPlan, type MapOverrides, planColumns } from "../lib/mapping.ts";

const HEADERS = [
  "Email",
  "email",
  "E-mail",
  "Work Email",
  "First Name",
  "first",
  "Last Name",
  "Company",
  "Phone",
  "Website",
  "Location",
  "LinkedIn",
  "Company URL",
  "Tags",
  "tag",
  "custom_fields",
  "Score",
  "VIP",
  "__proto__",
  "1",
  "10",
  "01",
  "4294967295",
  "",
  "x".repeat(201),
  "Ünïcode",
  "b",
  "a",
  "tags",
];

const VALUES: unknown[] = [
  "",
  "  ",
  "Ann",
  "  Ann.Lee@Example.COM ",
  "bob@x.io",
  "BOB@X.IO",
  "not-an-email",
  "a@b",
  "İstanbul@x.com",
  'Quote "here", and \\ back',
  "ctl\u0001\u001f\n\t",
  "lone \ud800 surrogate",
  "😀 emoji",
  "a, b,,c",
  " vip , VIP ",
  "x".repeat(10_001),
  42,
  0,
  true,
  null,
  undefined,
  { k: "v" },
  { k: 1, j: true },
  { k: { deep: 1 } },
  ["x"],
];

/** Mostly valid emails and plain text (so that most rows are leads), some of everything. */
const valueArb: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.constantFrom("bob@x.io", "  Ann.Lee@Example.COM ", "Ann", ""), weight: 12 },
  { arbitrary: fc.constantFrom(...VALUES), weight: 1 },
);

const TARGETS = [
  "email",
  "first_name",
  "company_name",
  "custom_fields.tags",
  "custom_fields.Z",
  "ignore",
];

interface Case {
  columns: string[];
  overrides: MapOverrides;
  tags: string[];
  rows: Array<{ values: unknown[]; count: number }>;
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  columns: fc.tuple(
    fc.constantFrom(["Email"], ["email"], ["Work Email"], []),
    fc.array(fc.constantFrom(...HEADERS), { minLength: 1, maxLength: 8 }),
  ).map(([a, b]) => [...a, ...b]),
  overrides: fc.array(
    fc.record({ target: fc.constantFrom(...TARGETS), column: fc.constantFrom(...HEADERS) }),
    { maxLength: 2 },
  ),
  tags: fc.constantFrom<string[]>([], ["vip"], ["a, b", "A", " "]),
  rows: fc.array(
    fc.record({
      values: fc.array(valueArb, { minLength: 9, maxLength: 9 }),
      short: fc.integer({ min: 0, max: 12 }),
    }),
    { minLength: 1, maxLength: 8 },
  ),
}).map((r) => ({
  columns: r.columns,
  overrides: r.overrides,
  tags: r.tags,
  rows: r.rows.map((x) => {
    const values = x.values.slice(0, r.columns.length);
    return { values, count: Math.min(values.length, x.short) };
  }),
}));

/** What the current path gives for one row. */
function current(plan: ColumnPlan, tags: string[], values: unknown[]) {
  const row: Row = { source: "t", line: 1, columns: plan.columns, values };
  const r = buildLead(row, plan, tags);
  if (!r.ok) return { ok: false as const, reason: r.reason, email: r.email };
  const payload = JSON.stringify(r.lead);
  return { ok: true as const, email: r.lead.email, payload, hash: payloadHash(payload) };
}

function mapped(ok: boolean, out: MapOut) {
  return ok
    ? {
      ok: true as const,
      email: out.email,
      payload: out.payload(),
      hash: hashHex(out.hash[0]!, out.hash[1]!),
    }
    : { ok: false as const, reason: out.reason, email: out.rejectEmail };
}

for (const form of ["generated", "interpreted"] as const) {
  Deno.test(`compiled mapper (${form}) agrees with buildLead + JSON.stringify + payloadHash`, () => {
    let accepted = 0;
    let rejected = 0;
    let fast = 0;
    fc.assert(
      fc.property(caseArb, (c) => {
        let plan: ColumnPlan;
        try {
          plan = planColumns(c.columns, c.overrides, false);
        } catch {
          return; // an override naming a missing column is refused before any row
        }
        const m = compileMapper(plan, c.tags, { form });
        assert.equal(m.form, form);
        const out = new MapOut();
        let slowBefore = 0;
        for (const row of c.rows) {
          const values = row.values.slice(0, row.count);
          const want = current(plan, c.tags, values);
          // the row inside a larger flat array, as the worker hands rows over
          const flat = ["pad", "pad", ...values, "after", "after"];
          const ok = m.map(flat, 2, values.length, out);
          assert.deepEqual(mapped(ok, out), want);
          if (ok) accepted++;
          else rejected++;
          if (ok && m.slowRows === slowBefore) fast++;
          slowBefore = m.slowRows;
        }
      }),
      { numRuns: 2000 },
    );
    // the generator reaches both outcomes often
    assert.ok(
      accepted > 1000 && rejected > 1000 && fast > 1000,
      `${accepted} accepted (${fast} on the fast path), ${rejected} rejected`,
    );
  });
}

Deno.test("compiled mapper: the form follows the mapped column count", () => {
  const small = planColumns(["email", "a", "b"], [], true);
  assert.equal(compileMapper(small, []).form, "generated");
  const wide = Array.from({ length: GENERATE_MAX_COLUMNS + 1 }, (_, i) => `col${i}`);
  wide[0] = "email";
  const big = compileMapper(planColumns(wide, [], true), []);
  assert.equal(big.form, "interpreted");
  const values = wide.map((_, i) => (i === 0 ? "A@X.COM" : i % 2 ? `v${i}` : ""));
  const out = new MapOut();
  assert.equal(big.map(values, 0, values.length, out), true);
  const lead = buildLead(
    { source: "t", line: 1, columns: wide, values },
    planColumns(wide, [], true),
    [],
  );
  assert.ok(lead.ok);
  assert.equal(out.payload(), JSON.stringify(lead.lead));
  assert.equal(hashHex(out.hash[0]!, out.hash[1]!), payloadHash(out.payload()));
});

Deno.test("compiled mapper: canonical key order for integer-like and __proto__ custom keys", () => {
  const columns = ["b", "10", "Email", "__proto__", "9", "01", "a"];
  const plan = planColumns(columns, [], true);
  const out = new MapOut();
  const values = ["B", "ten", "z@x.com", "proto", "nine", "zero-one", "A"];
  assert.equal(compileMapper(plan, ["t1"]).map(values, 0, values.length, out), true);
  assert.equal(
    out.payload(),
    '{"email":"z@x.com","custom_fields":{"9":"nine","10":"ten","01":"zero-one","__proto__":"proto","a":"A","b":"B","tags":"t1"}}',
  );
});

Deno.test("compiled mapper: --max-custom-fields rejects as buildLead does, in both forms", () => {
  const columns = ["email", "a", "b", "c", "d"];
  const plan = planColumns(columns, [], true);
  const rows = [
    ["x@ex.com", "1", "2", "3", "4"], // 4 custom fields
    ["y@ex.com", "1", "", "3", ""], // 2
    ["z@ex.com", "1", "2", "3", ""], // 3
  ];
  for (const form of ["generated", "interpreted"] as const) {
    for (const max of [2, 3, 200]) {
      const m = compileMapper(plan, [], { form, maxCustomFields: max });
      for (const values of rows) {
        const r = buildLead({ source: "", line: 0, columns, values }, plan, [], max);
        const want = r.ok
          ? { ok: true as const, payload: JSON.stringify(r.lead) }
          : { ok: false as const, reason: r.reason, email: r.email };
        const out = new MapOut();
        const ok = m.map(values, 0, values.length, out);
        assert.deepEqual(
          ok
            ? { ok: true as const, payload: out.payload() }
            : { ok: false as const, reason: out.reason, email: out.rejectEmail },
          want,
          `${form} ${max} ${values[0]}`,
        );
      }
    }
  }
  // and the cap is what decides: 2 rejects the 3- and 4-field rows, 3 only the 4-field one
  const two = compileMapper(plan, [], { maxCustomFields: 2 });
  const out = new MapOut();
  assert.deepEqual(rows.map((v) => two.map(v, 0, v.length, out)), [false, true, false]);
  const three = compileMapper(plan, [], { maxCustomFields: 3 });
  assert.deepEqual(rows.map((v) => three.map(v, 0, v.length, out)), [false, true, true]);
});
