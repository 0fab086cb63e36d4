import assert from "node:assert/strict";
import { UsageError } from "../lib/errors.ts";
import {
  describePlan,
  type LeadField,
  normalizeHeader,
  parseMapFlags,
  planColumns,
  type Target,
} from "../lib/mapping.ts";

const field = (f: LeadField): Target => ({ kind: "field", field: f });
const custom = (key: string): Target => ({ kind: "custom", key });

Deno.test("normalizeHeader", () => {
  assert.equal(normalizeHeader("E-mail Address"), "emailaddress");
  assert.equal(normalizeHeader(" First_Name "), "firstname");
  assert.equal(normalizeHeader("LinkedIn URL"), "linkedinurl");
  assert.equal(normalizeHeader("Prénom"), "prénom");
  assert.equal(normalizeHeader("#!?"), "");
});

Deno.test("planColumns: automatic mapping", async (t) => {
  const cases: Array<[string, LeadField]> = [
    ["Email", "email"],
    ["email", "email"],
    ["Email Address", "email"],
    ["E-mail", "email"],
    ["E-Mail Address", "email"],
    ["email_address", "email"],
    ["Work Email", "email"],
    ["First Name", "first_name"],
    ["firstname", "first_name"],
    ["first_name", "first_name"],
    ["FIRST-NAME", "first_name"],
    ["Given Name", "first_name"],
    ["Last Name", "last_name"],
    ["Surname", "last_name"],
    ["Company", "company_name"],
    ["Company Name", "company_name"],
    ["Organization", "company_name"],
    ["Phone", "phone_number"],
    ["Phone Number", "phone_number"],
    ["Mobile", "phone_number"],
    ["Mobile Phone", "phone_number"],
    ["Website", "website"],
    ["URL", "website"],
    ["LinkedIn URL", "linkedin_profile"],
    ["LinkedIn", "linkedin_profile"],
    ["linkedin_profile", "linkedin_profile"],
    ["Location", "location"],
    ["Company Website", "company_url"],
    ["Domain", "company_url"],
  ];
  for (const [header, f] of cases) {
    await t.step(`${JSON.stringify(header)} → ${f}`, () => {
      const plan = planColumns([header], [], true);
      assert.deepEqual(plan.targets, [field(f)]);
      assert.deepEqual(plan.reasons, ["auto"]);
    });
  }

  await t.step("unknown columns → custom fields named exactly as the header", () => {
    const plan = planColumns(
      ["Email", "Favourite Colour", "ARR ($)", "tags", "Custom Fields"],
      [],
      true,
    );
    assert.deepEqual(plan.targets, [
      field("email"),
      custom("Favourite Colour"),
      custom("ARR ($)"),
      { kind: "tags" },
      { kind: "custom_fields_object" },
    ]);
    assert.deepEqual(plan.reasons, ["auto", "custom", "custom", "auto", "auto"]);
    assert.equal(plan.emailColumn, 0);
  });

  await t.step("a second column for a taken field becomes a custom field", () => {
    const plan = planColumns(["Email", "Work Email", "Phone", "Mobile", ""], [], true);
    assert.deepEqual(plan.targets, [
      field("email"),
      custom("Work Email"),
      field("phone_number"),
      custom("Mobile"),
      { kind: "ignore" },
    ]);
    assert.deepEqual(plan.reasons, ["auto", "duplicate", "auto", "duplicate", "custom"]);
  });

  await t.step("no email column → emailColumn -1", () => {
    assert.equal(planColumns(["name", "company"], [], true).emailColumn, -1);
  });
});

Deno.test("planColumns: --map overrides", async (t) => {
  await t.step("--map wins over automatic mapping, and takes the field", () => {
    const plan = planColumns(
      ["Email", "Contact", "Notes", "Phone"],
      parseMapFlags(["email=Contact", "custom_fields.Remarks=notes", "ignore=Phone"]),
      true,
    );
    assert.deepEqual(plan.targets, [
      custom("Email"),
      field("email"),
      custom("Remarks"),
      { kind: "ignore" },
    ]);
    assert.deepEqual(plan.reasons, ["duplicate", "map", "map", "map"]);
    assert.equal(plan.emailColumn, 1);
  });

  await t.step("an override naming a missing CSV column is a UsageError", () => {
    assert.throws(
      () => planColumns(["email"], parseMapFlags(["first_name=Vorname"]), true, "a.csv"),
      (e: unknown) => {
        assert.ok(e instanceof UsageError);
        assert.equal(e.exitCode, 2);
        assert.equal(e.message, 'a.csv: --map first_name=Vorname: no column "Vorname"');
        assert.equal(e.hint, 'columns are: "email"');
        return true;
      },
    );
  });

  await t.step("NDJSON rows may lack an overridden key", () => {
    const plan = planColumns(["mail"], parseMapFlags(["first_name=Vorname"]), false);
    assert.deepEqual(plan.targets, [field("email")]);
  });

  await t.step("parseMapFlags", () => {
    assert.deepEqual(parseMapFlags([" email = E Mail ", "custom_fields.A=b"]), [
      { target: "email", column: "E Mail" },
      { target: "custom_fields.A", column: "b" },
    ]);
    for (const bad of ["email", "=x", "email=", "mail=x", "custom_fields.=x"]) {
      assert.throws(() => parseMapFlags([bad]), (e: unknown) => {
        assert.ok(e instanceof UsageError);
        assert.equal(e.exitCode, 2);
        assert.ok(e.message.startsWith(`--map ${JSON.stringify(bad)}: `), e.message);
        return true;
      });
    }
  });

  await t.step("describePlan", () => {
    const plan = planColumns(
      ["E-mail", "Mobile", "Phone", "tags", "x"],
      parseMapFlags(["ignore=x"]),
      true,
    );
    assert.deepEqual(describePlan(plan), [
      '"E-mail" → email',
      '"Mobile" → phone_number',
      '"Phone" → custom_fields.Phone (field already mapped by another column)',
      '"tags" → custom_fields.tags (merged with --tags)',
      '"x" → (ignored)',
    ]);
  });
});
