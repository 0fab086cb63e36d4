/**
 * Unit tests of the hash of a lead as Smartlead holds it: equal to the hash of the payload
 * this tool sent for the same data, whatever Smartlead adds around it (empty fields, numbers,
 * tags as a list), and different when a value differs.
 */
import assert from "node:assert/strict";
import { readRoster, type RosterInfo, smartleadHash } from "../lib/client/roster.ts";
import { SmartleadClient } from "../lib/client/smartlead.ts";
import { startSandbox } from "../lib/sandbox/server.ts";
import { planColumns } from "../lib/mapping.ts";
import { toStaged } from "../lib/pipeline/stage.ts";
import { validateRows } from "../lib/pipeline/validate.ts";
import { csvHeaders, type Row } from "../lib/input/row.ts";

/** The hash push stages for one CSV row (header `columns`), with the run's `tags`. */
async function stagedHash(
  columns: string[],
  values: string[],
  tags: string[] = [],
): Promise<string> {
  csvHeaders.add(columns);
  const rows: Row[] = [
    { source: "t.csv", line: 1, columns, values: [], header: true },
    { source: "t.csv", line: 2, columns, values },
  ];
  async function* one() {
    yield rows;
  }
  for await (const batch of validateRows(one(), { map: [], tags })) {
    const c = batch[0]!;
    if (!c.ok) throw new Error(c.reason);
    return toStaged(c).hash;
  }
  throw new Error("no row");
}

Deno.test("Smartlead's view of a lead hashes like the payload that was sent", async () => {
  assert.equal(planColumns(["Email"], [], true).emailColumn, 0);
  const sent = await stagedHash(
    ["Email", "First Name", "Company", "Title", "Seats"],
    [" Ann@X.com ", "Ann", "Acme", "CEO", "12"],
    ["vip", "2026"],
  );
  // As the export or the roster shows it: every field present, empty ones null or "".
  const there = smartleadHash(
    {
      email: "ann@x.com",
      first_name: "Ann",
      last_name: null,
      phone_number: "",
      company_name: "Acme ",
      website: null,
    },
    { Title: "CEO", Seats: 12, tags: ["vip", "2026"], Empty: "" },
  );
  assert.equal(there, sent);
  assert.equal(
    smartleadHash({ email: "ann@x.com", first_name: "Ann", company_name: "Acme" }, {
      Title: "CEO",
      Seats: "12",
      tags: "vip,2026",
    }),
    sent,
  );
  // Any value that differs, or a custom field the input does not have, is drift.
  assert.notEqual(
    smartleadHash({ email: "ann@x.com", first_name: "Anne", company_name: "Acme" }, {
      Title: "CEO",
      Seats: "12",
      tags: "vip,2026",
    }),
    sent,
  );
  assert.notEqual(
    smartleadHash({ email: "ann@x.com", first_name: "Ann", company_name: "Acme" }, {
      Title: "CEO",
      Seats: "12",
      tags: "vip,2026",
      Extra: "x",
    }),
    sent,
  );
});

Deno.test("values that cannot make a lead have no hash (not compared) instead of drifting", () => {
  assert.equal(smartleadHash({ email: "not an email" }, {}), null);
  assert.equal(smartleadHash({ email: "a@x.com" }, { Nested: { a: 1 } }), null);
  const proto = JSON.parse('{"__proto__": "1"}');
  assert.notEqual(
    smartleadHash({ email: "a@x.com" }, proto),
    smartleadHash({ email: "a@x.com" }, {}),
  );
});

Deno.test("the export is streamed without the answer cap, and debug lines hide the key", async () => {
  const sb = await startSandbox({ apiKey: "secret-key-77" });
  try {
    sb.state.addLeads(
      1,
      Array.from({ length: 60 }, (_, i) => ({
        email: `lead${i}@example.com`,
        custom_fields: { Note: "x".repeat(100) },
      })),
    );
    const lines: string[] = [];
    const client = new SmartleadClient({
      apiKey: sb.apiKey,
      baseUrl: sb.url,
      maxBodyBytes: 2000, // JSON answers over 2 kB would be refused; the export is ~10 kB
      debug: (l) => lines.push(l),
    });
    const info: RosterInfo = { source: "pages", skipped: 0, unreadable: 0 };
    const leads = (await Array.fromAsync(readRoster(client, 1, info))).flat();
    assert.deepEqual([info.source, info.fallback, leads.length], ["export", undefined, 60]);
    assert.deepEqual(leads[7], {
      email: "lead7@example.com",
      leadId: 2995276777,
      status: "STARTED",
      hash: smartleadHash({ email: "lead7@example.com" }, { Note: "x".repeat(100) }),
    });
    assert.equal(client.requests, 1);
    assert.ok(
      lines.length === 2 && lines.every((l) => !l.includes("secret-key-77")),
      lines.join("\n"),
    );
    assert.match(
      lines[0]!,
      /^→ GET http:\/\/127\.0\.0\.1:\d+\/api\/v1\/campaigns\/1\/leads-export\?api_key=\*\*\*$/,
    );
  } finally {
    await sb.close();
  }
});
