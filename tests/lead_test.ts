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
      [{ email: "not-an-email" }, 'email: not a valid email address ("not-an-email"): no @'],
      [
        { email: " Foo@ Bar.com" },
        'email: not a valid email address ("foo@ bar.com"): contains a space',
      ],
      [
        { email: "ann\u200b@x.com" },
        'email: not a valid email address ("ann\\u200b@x.com"): contains an invisible ' +
        "character (\\u200b) at position 4; retype the address",
      ],
      [{ email: "a@b@x.com" }, 'email: not a valid email address ("a@b@x.com"): more than one @'],
      [{ email: "@x.com" }, 'email: not a valid email address ("@x.com"): nothing before the @'],
      [{ email: "ann@" }, 'email: not a valid email address ("ann@"): nothing after the @'],
      [
        { email: "ann@localhost" },
        'email: not a valid email address ("ann@localhost"): the domain "localhost" has no dot ' +
        "(e.g. example.com)",
      ],
      [
        { email: "ann,lee@x.com" },
        'email: not a valid email address ("ann,lee@x.com"): character "," is not allowed ' +
        "before the @",
      ],
      [
        { email: "ann..lee@x.com" },
        'email: not a valid email address ("ann..lee@x.com"): the part before the @ starts ' +
        "with a dot or has two dots in a row",
      ],
      [
        { email: "rené@x.com" },
        'email: not a valid email address ("rené@x.com"): non-ASCII character "é" before ' +
        "the @ (only the domain may be international)",
      ],
      [
        { email: "ann@x_y.com" },
        'email: not a valid email address ("ann@x_y.com"): character "_" is not allowed in ' +
        "the domain",
      ],
      [
        { email: "ann@x..com" },
        'email: not a valid email address ("ann@x..com"): the domain "x..com" has an empty ' +
        "part (two dots, or a dot at an end)",
      ],
      [
        { email: "ann@x.c0m" },
        'email: not a valid email address ("ann@x.c0m"): the domain "x.c0m" does not end in ' +
        "a valid top-level domain",
      ],
      [
        { email: "a@x.com", Extra: [{ a: 1 }] },
        'field "Extra" is an array holding objects or arrays',
      ],
      [
        { email: "a@x.com", Extra: { a: 1 } },
        'field "Extra" is a nested object (rejected by --nested reject; the default, flatten, ' +
        "sends its keys as parent.child custom fields)",
      ],
      [{ email: "a@x.com", custom_fields: "x" }, '"custom_fields" must be an object of strings'],
      [
        { email: "a@x.com", custom_fields: { a: { b: 1 } } },
        'custom field "a" is a nested object (rejected by --nested reject; the default, ' +
        "flatten, sends its keys as parent.child custom fields)",
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

  await t.step("arrays of scalars are comma-joined, nulls and blanks left out", () => {
    assert.deepEqual(lead({ email: "a@x.com", tags: ["a", " b ", null, ""], n: [1, true] }), {
      ok: true,
      lead: { email: "a@x.com", custom_fields: { n: "1,true", tags: "a,b" } },
    });
    assert.deepEqual(lead({ email: "a@x.com", custom_fields: { k: ["x", "y"] } }), {
      ok: true,
      lead: { email: "a@x.com", custom_fields: { k: "x,y" } },
    });
  });

  await t.step("an international domain is sent, and deduplicated, in its ASCII form", () => {
    for (const email of ["user@müller.de", "User@MÜLLER.DE", "user@xn--mller-kva.de"]) {
      assert.deepEqual(lead({ email }), {
        ok: true,
        lead: { email: "user@xn--mller-kva.de" },
      });
    }
    assert.deepEqual(lead({ email: "info@例え.jp" }), {
      ok: true,
      lead: { email: "info@xn--r8jz45g.jp" },
    });
    // An IDNA top-level domain, and full-width dots mapped as IDNA does.
    assert.deepEqual(lead({ email: "a@пример.рф" }), {
      ok: true,
      lead: { email: "a@xn--e1afmkfd.xn--p1ai" },
    });
    assert.deepEqual(lead({ email: "a@müller．de" }), {
      ok: true,
      lead: { email: "a@xn--mller-kva.de" },
    });
  });

  await t.step("custom fields over the cap: rejected with the count, the email rides along", () => {
    const record = { email: "a@x.com", a: "1", b: "2", c: "", d: "4" };
    const columns = Object.keys(record);
    const row: Row = { source: "t", line: 1, columns, values: Object.values(record) };
    const plan = planColumns(columns, [], false);
    // Three non-empty custom fields: at a cap of 3 it passes, at 2 it does not.
    assert.equal(buildLead(row, plan, [], 3).ok, true);
    assert.deepEqual(buildLead(row, plan, [], 2), {
      ok: false,
      reason: "3 non-empty custom fields; Smartlead takes at most 2 per lead " +
        "(--max-custom-fields): drop columns with --map ignore=<column>",
      email: "a@x.com",
    });
    // --tags adds one.
    assert.equal(buildLead(row, plan, ["t"], 3).ok, false);
  });

  await t.step("normalizeEmail and mergeTags", () => {
    assert.equal(normalizeEmail("  A@B.Com\t"), "a@b.com");
    assert.equal(normalizeEmail(" Ann@Müller.DE "), "ann@xn--mller-kva.de");
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
      [3, 'email: not a valid email address ("nope"): no @', {
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
    // IDNA ASCII forms, the top-level domain included.
    fc.tuple(fc.stringMatching(/^[a-z0-9]{1,6}$/), fc.constantFrom("xn--p1ai", "xn--", "de"))
      .map(([a, tld]) => `u@xn--${a}.${tld}`),
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

Deno.test("buildLead's email always passes the zod schema and equals normalizeEmail", async () => {
  const fc = (await import("fast-check")).default;
  const { LeadSchema } = await import("../lib/lead.ts");
  const unit = fc.constantFrom(..."aZ09-.ü例え．\u200b @".split(""));
  const email = fc.tuple(
    fc.stringMatching(/^[a-z0-9.+_-]{1,6}$/),
    fc.string({ unit, minLength: 1, maxLength: 10 }),
    fc.constantFrom("de", "jp", "рф", "c0m", ""),
  ).map(([a, b, c]) => `${a}@${b}${c ? "." + c : ""}`);
  const seen = { ok: 0, rejected: 0 };
  fc.assert(
    fc.property(email, (e) => {
      const r = lead({ email: e });
      seen[r.ok ? "ok" : "rejected"]++;
      if (r.ok) {
        assert.equal(LeadSchema.safeParse(r.lead).success, true, e);
        assert.equal(r.lead.email, normalizeEmail(e));
        assert.doesNotMatch(r.lead.email, /[^ -~]/); // printable ASCII only
      } else {
        assert.match(r.reason, /^email: not a valid email address \(".*"\): \S/, e);
        assert.doesNotMatch(r.reason, /\u200b/); // written as \u200b, never raw
      }
    }),
    { numRuns: 2000 },
  );
  assert.ok(seen.ok > 50 && seen.rejected > 50, JSON.stringify(seen));
});
