import assert from "node:assert/strict";
import { UsageError } from "../lib/errors.ts";
import { parseCsv } from "../lib/input/csv.ts";
import type { Row } from "../lib/input/row.ts";
import { buildLead, type LeadResult, mergeTags, normalizeEmail } from "../lib/lead.ts";
import { parseMapFlags, planColumns } from "../lib/mapping.ts";
import { type Checked, validateRows } from "../lib/pipeline/validate.ts";

function lead(
  record: Record<string, unknown>,
  tags: string[] = [],
  map: string[] = [],
): LeadResult {
  const columns = Object.keys(record);
  const row: Row = { source: "t", line: 1, columns, values: Object.values(record) };
  return buildLead(row, planColumns(columns, parseMapFlags(map), false), tags);
}

Deno.test("buildLead", async (t) => {
  await t.step("fields mapped, email trimmed and lower-cased, empty values omitted", () => {
    assert.deepEqual(
      lead({
        "E-mail": "  Ann.Lee@Example.COM ",
        "First Name": " Ann ",
        "Last Name": "",
        Company: "   ",
        Phone: 4155550100,
        Website: null,
        "LinkedIn URL": "https://linkedin.com/in/ann",
        Score: 12.5,
        VIP: true,
        Empty: "",
      }),
      {
        ok: true,
        lead: {
          email: "ann.lee@example.com",
          first_name: "Ann",
          phone_number: "4155550100",
          linkedin_profile: "https://linkedin.com/in/ann",
          custom_fields: { Score: "12.5", VIP: "true" },
        },
      },
    );
  });

  await t.step("custom fields keep the header exactly as written", () => {
    assert.deepEqual(lead({ email: "a@x.com", "Favourite Colour (2nd)": "blue", "Ünïcode": "ü" }), {
      ok: true,
      lead: {
        email: "a@x.com",
        custom_fields: { "Favourite Colour (2nd)": "blue", "Ünïcode": "ü" },
      },
    });
  });

  await t.step("--map wins", () => {
    assert.deepEqual(lead({ email: "a@x.com", Contact: "B@X.com" }, [], ["email=Contact"]), {
      ok: true,
      lead: { email: "b@x.com", custom_fields: { email: "a@x.com" } },
    });
  });

  await t.step("tags: column and flags merged, trimmed, de-duplicated", () => {
    assert.deepEqual(
      lead({ email: "a@x.com", Tags: " vip, webinar ,,VIP, 2026 " }, ["webinar", " new "]),
      {
        ok: true,
        lead: { email: "a@x.com", custom_fields: { tags: "vip,webinar,2026,new" } },
      },
    );
    assert.deepEqual(lead({ email: "a@x.com" }, ["x", "y"]), {
      ok: true,
      lead: { email: "a@x.com", custom_fields: { tags: "x,y" } },
    });
    assert.deepEqual(lead({ email: "a@x.com", tags: " , " }), {
      ok: true,
      lead: { email: "a@x.com" },
    });
  });

  await t.step("a custom_fields object is merged into custom fields", () => {
    assert.deepEqual(
      lead({ email: "a@x.com", custom_fields: { Plan: "pro", Seats: 5, Gone: "" } }),
      {
        ok: true,
        lead: { email: "a@x.com", custom_fields: { Plan: "pro", Seats: "5" } },
      },
    );
  });

  await t.step("a __proto__ key is kept as a custom field, not swallowed", () => {
    const r = lead(
      JSON.parse('{"email":"a@x.com","__proto__":"p","custom_fields":{"constructor":"c"}}'),
    );
    assert.ok(r.ok);
    assert.equal(
      JSON.stringify(r.lead),
      '{"email":"a@x.com","custom_fields":{"__proto__":"p","constructor":"c"}}',
    );
  });

  await t.step("reasons", () => {
    const reasons: Array<[Record<string, unknown>, string]> = [
      [{ name: "x" }, "no email field"],
      [{ email: "   " }, "email is empty"],
      [{ email: null }, "email is empty"],
      [{ email: "not-an-email" }, 'email: not a valid email address ("not-an-email")'],
      [{ email: " Foo@ Bar.com" }, 'email: not a valid email address ("foo@ bar.com")'],
      [
        { email: "a@x.com", Extra: [1] },
        'field "Extra" is an array; only strings, numbers and booleans',
      ],
      [
        { email: "a@x.com", Extra: { a: 1 } },
        'field "Extra" is an object; only strings, numbers and booleans',
      ],
      [{ email: "a@x.com", custom_fields: "x" }, '"custom_fields" must be an object of strings'],
      [
        { email: "a@x.com", custom_fields: { a: { b: 1 } } },
        'custom field "a" is an object, not a string',
      ],
      [
        { email: "a@x.com", first_name: "x".repeat(10_001) },
        "first_name: Too big: expected string to have <=10000 characters",
      ],
    ];
    for (const [record, reason] of reasons) {
      const r = lead(record);
      // The email rides along when it is itself valid (the row is still "present").
      const expected = reason.startsWith("first_name:")
        ? { ok: false, reason, email: "a@x.com" }
        : { ok: false, reason };
      assert.deepEqual(r, expected, JSON.stringify(record).slice(0, 80));
    }
  });

  await t.step("normalizeEmail and mergeTags", () => {
    assert.equal(normalizeEmail("  A@B.Com\t"), "a@b.com");
    assert.deepEqual(mergeTags("a, b", ["B", " c "], undefined, "a,,d"), ["a", "b", "c", "d"]);
    assert.deepEqual(mergeTags(), []);
  });
});

Deno.test("validateRows", async (t) => {
  const csv = async (text: string, map: string[] = [], tags: string[] = []) => {
    const rows = parseCsv(
      ReadableStream.from([{ source: "in.csv", text, bytesRead: 0, last: true }]),
    );
    return (await Array.fromAsync(validateRows(rows, { map: parseMapFlags(map), tags }))).flat();
  };
  const brief = (cs: Checked[]) =>
    cs.map((c) => c.ok ? [c.line, c.lead] : [c.line, c.reason, c.row]);

  await t.step("leads and rejects, with lines and the row as written", async () => {
    const out = await csv(
      "Email Address,First Name,Notes\nA@x.com,Ann,hi\nnope,Bob,\n,Cy,x\nd@x.com,Di,x,extra\n",
      [],
      ["t1"],
    );
    assert.deepEqual(brief(out), [
      [2, { email: "a@x.com", first_name: "Ann", custom_fields: { Notes: "hi", tags: "t1" } }],
      [3, 'email: not a valid email address ("nope")', {
        "Email Address": "nope",
        "First Name": "Bob",
        Notes: "",
      }],
      [4, "email is empty", { "Email Address": "", "First Name": "Cy", Notes: "x" }],
      [5, "row has 4 fields but the header has 3", {
        "Email Address": "d@x.com",
        "First Name": "Di",
        Notes: "x",
        _extra: ["extra"],
      }],
    ]);
  });

  await t.step("a CSV without an email column → UsageError", async () => {
    await assert.rejects(csv("name,company\nAnn,Acme\n"), (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assert.equal(e.exitCode, 2);
      assert.equal(e.message, 'in.csv: line 1: no email column (columns: "name", "company")');
      assert.equal(e.hint, "name the email column with --map email=<column>");
      return true;
    });
  });

  await t.step("--map email=<column> fixes it", async () => {
    assert.deepEqual(brief(await csv("name,contact\nAnn,A@X.com\n", ["email=contact"])), [
      [2, { email: "a@x.com", custom_fields: { name: "Ann" } }],
    ]);
  });
});

Deno.test("the hot-path check agrees with the zod lead schema on random leads", async () => {
  const fc = (await import("fast-check")).default;
  const { LeadSchema, passesLeadSchema } = await import("../lib/lead.ts");
  const chars = fc.constantFrom(..."aZ09_.+-'@ \"é\u0000x.-".split(""));
  const emailish = fc.oneof(
    {
      arbitrary: fc.tuple(
        fc.stringMatching(/^[a-z0-9.'+_-]{1,8}$/),
        fc.stringMatching(/^[a-z0-9-]{1,8}(\.[a-z0-9-]{1,5})?$/),
        fc.constantFrom("com", "io", "uk", "x", "c0m"),
      ).map(([a, b, c]) => `${a}@${b}.${c}`),
      weight: 12,
    },
    { arbitrary: fc.emailAddress(), weight: 2 },
    fc.string({ unit: chars, maxLength: 30 }),
    fc.tuple(
      fc.string({ unit: chars, minLength: 1, maxLength: 12 }),
      fc.string({ unit: chars, minLength: 1, maxLength: 12 }),
    )
      .map(([a, b]) => `${a}@${b}.com`),
    fc.constant(`${"a".repeat(310)}@example.com`),
    fc.constant(`${"a".repeat(320)}@example.com`),
  );
  const text = fc.oneof(
    { arbitrary: fc.string({ minLength: 1, maxLength: 5 }), weight: 30 },
    fc.constant("x".repeat(10_001)),
    fc.constant(""),
  );
  const lead = fc.record(
    {
      email: emailish,
      first_name: text,
      company_name: text,
      custom_fields: fc.dictionary(
        fc.oneof(
          { arbitrary: fc.string({ maxLength: 3 }), weight: 30 },
          fc.constant("k".repeat(201)),
        ),
        fc.oneof(
          { arbitrary: fc.string({ maxLength: 3 }), weight: 30 },
          fc.constant("v".repeat(10_001)),
        ),
        { maxKeys: 3 },
      ),
    },
    { requiredKeys: ["email"] },
  );
  const seen = { pass: 0, fail: 0 };
  fc.assert(
    fc.property(lead, (l) => {
      const fast = passesLeadSchema(l);
      seen[fast ? "pass" : "fail"]++;
      assert.equal(fast, LeadSchema.safeParse(l).success, JSON.stringify(l).slice(0, 200));
    }),
    { numRuns: 3000 },
  );
  // Both verdicts were exercised, not just one.
  assert.ok(seen.pass > 100 && seen.fail > 100, JSON.stringify(seen));
});
