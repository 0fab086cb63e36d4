/**
 * End-to-end: the campaign read in one request (`leads-export`) for lead ids and `verify`,
 * paging only as the fallback (export failing, unreadable, or without an id column), roster
 * entries without a lead skipped, field values compared (a lead edited in Smartlead's UI is
 * drift, marked for update by `verify --repair`), and the index rebuilt from the campaign.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { SmartleadClient } from "../lib/client/smartlead.ts";
import { rebuildIndexFromCampaign } from "../lib/index/rebuild.ts";
import { IndexStore } from "../lib/index/store.ts";
import type { Sandbox } from "../lib/sandbox/server.ts";
import { countRequests, runCli, sandboxCli, summaryOf, tempDir, withSandbox } from "./helpers.ts";

const CSV_HEADER = "Email,First Name,Title\n";
const people = (n: number): string[][] =>
  Array.from({ length: n }, (_, i) => [`p${i}@ex.com`, `P${i}`, "Engineer"]);
const csvOf = (rows: ReadonlyArray<readonly string[]>) =>
  CSV_HEADER + rows.map((r) => r.join(",")).join("\n") + "\n";

function indexFile(dir: string, sb: Sandbox): string {
  const u = new URL(sb.url);
  return `${dir}/state/smartlead-sync/${u.hostname}_${u.port}-campaign-1.db`;
}

/** Requests to the export and to the roster pages, from index `from` on. */
function reads(sb: Sandbox, from = 0): { exports: number; pages: number } {
  const rs = sb.requests.slice(from).filter((r) => r.method === "GET");
  return {
    exports: rs.filter((r) => r.path.includes("/leads-export?")).length,
    pages: rs.filter((r) => /\/campaigns\/1\/leads\?/.test(r.path)).length,
  };
}

/** Forgets every lead id in the index, so that the next update has to read the campaign. */
function forgetIds(path: string): void {
  const db = new DatabaseSync(path);
  db.exec("update leads set lead_id = null");
  db.close();
}

/** A push of `rows` whose 3rd lead changed, with the index's ids forgotten first. */
async function updateWithoutIds(
  sb: Sandbox,
  dir: string,
  env: Record<string, string>,
): Promise<{ code: number; stderr: string; summary: Record<string, unknown> }> {
  const csv = `${dir}/leads.csv`;
  const rows = people(5).map((r) => [...r]);
  await Deno.writeTextFile(csv, csvOf(rows));
  assert.equal((await runCli(["push", csv, "--campaign-id", "1"], { env })).code, 0);
  forgetIds(indexFile(dir, sb));
  rows[2]![2] = "Manager";
  await Deno.writeTextFile(csv, csvOf(rows));
  const r = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
  return { code: r.code, stderr: r.stderr, summary: summaryOf(r) };
}

Deno.test("lead ids come from the export: one request for the whole campaign, no paging", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const mark = sb.requests.length;
    const r = await updateWithoutIds(sb, dir, env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.summary.updated, 1);
    assert.deepEqual(reads(sb, mark), { exports: 1, pages: 0 });
    const p2 = sb.state.leads.get("p2@ex.com")!;
    assert.equal(p2.custom_fields.Title, "Manager");
    const db = new DatabaseSync(indexFile(dir, sb), { readOnly: true });
    const ids = db.prepare("select count(*) as n from leads where lead_id is not null").get() as {
      n: number;
    };
    db.close();
    assert.equal(ids.n, 5); // every id learned from the one export
  });
});

Deno.test("the export failing (500, 404, HTML, no id column) falls back to paging; null entries are skipped", async (t) => {
  const cases: Array<[string, { status: number; body?: string }, RegExp]> = [
    ["a 500", { status: 500 }, /export could not be used \(HTTP 500: Internal Server Error\)/],
    ["a 404", { status: 404 }, /export could not be used \(HTTP 404: Not found\)/],
    [
      "an HTML page",
      { status: 200, body: "<html><body>Maintenance</body></html>" },
      /export could not be used \(it has no email column \(columns: "<html><body>Maintenance<\/body><\/html>"\)\)/,
    ],
    [
      "CSV without an id column",
      { status: 200, body: "email,first_name\np0@ex.com,P0\n" },
      /export could not be used \(it has no id column \(columns: "email", "first_name"\)\)/,
    ],
  ];
  for (const [name, fault, note] of cases) {
    await t.step(name, async () => {
      await withSandbox({}, async ({ sb, dir, env }) => {
        sb.state.rosterNulls = { lead: 1, email: 1 };
        sb.addFault({
          method: "GET",
          pathPattern: "leads-export",
          times: 1,
          fault: { kind: "status", when: "before", ...fault },
        });
        const mark = sb.requests.length;
        const r = await updateWithoutIds(sb, dir, env);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, note);
        assert.match(r.stderr, /reading the campaign 100 leads per request instead/);
        assert.equal(r.summary.updated, 1);
        assert.deepEqual(reads(sb, mark), { exports: 1, pages: 1 });
        assert.equal(sb.state.leads.get("p2@ex.com")!.custom_fields.Title, "Manager");
      });
    });
  }
});

Deno.test("verify reads the export; a lead edited in Smartlead is drift, and --repair marks it for update", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf(people(5)));
    const push = ["push", csv, "--campaign-id", "1", "--tags", "vip, 2026", "--json"];
    assert.equal((await runCli(push, { env })).code, 0);
    // Tags and custom fields as Smartlead holds them hash like the payload sent: no drift.
    const clean = await runCli(["verify", "--campaign-id", "1", "--json"], { env });
    assert.equal(clean.code, 0, clean.stderr);
    const c = JSON.parse(clean.stdout);
    assert.deepEqual(
      [c.source, c.fields_compared, c.fields_not_compared, c.field_drift],
      ["export", 5, 0, []],
    );
    assert.deepEqual(reads(sb), { exports: 1, pages: 0 });

    // Someone edits two leads in the UI: a standard field, and a custom field cleared.
    const ctl = (body: unknown) =>
      fetch(new URL("/__sandbox/edit", sb.url), { method: "POST", body: JSON.stringify(body) });
    assert.equal((await ctl({ email: "p1@ex.com", fields: { first_name: "Pat" } })).status, 204);
    assert.equal((await ctl({ email: "p3@ex.com", custom_fields: { Title: null } })).status, 204);
    const differs = await runCli(["verify", "--campaign-id", "1", "--json"], { env });
    assert.equal(differs.code, 9, differs.stderr);
    assert.deepEqual(JSON.parse(differs.stdout).field_drift, ["p1@ex.com", "p3@ex.com"]);
    const human = await runCli(["verify", "--campaign-id", "1"], { env });
    assert.equal(human.code, 9);
    assert.match(
      human.stderr,
      /^Smartlead: 5 leads in campaign 1 \(read from the campaign export\); index: 5 synced\n/,
    );
    assert.match(
      human.stderr,
      /\nfield values differ \(edited in Smartlead\?\): 2 of 5 compared\n {2}p1@ex\.com\n {2}p3@ex\.com\n/,
    );

    const repaired = await runCli(["verify", "--campaign-id", "1", "--repair", "--json"], { env });
    assert.equal(repaired.code, 0, repaired.stderr);
    assert.equal(JSON.parse(repaired.stdout).drift_marked, 2);
    // The same input again: exactly the two edited leads are updated back.
    const mark = sb.requests.length;
    const again = await runCli(push, { env });
    const s = summaryOf(again);
    assert.deepEqual([s.updated, s.unchanged, s.added], [2, 3, 0]);
    assert.equal(countRequests(sb).updates, 2);
    assert.equal(sb.requests.length - mark, 3); // campaign + 2 updates
    assert.equal(sb.state.leads.get("p1@ex.com")!.first_name, "P1");
    assert.equal(sb.state.leads.get("p3@ex.com")!.custom_fields.Title, "Engineer");
    const after = await runCli(["verify", "--campaign-id", "1", "--json"], { env });
    assert.equal(after.code, 0, after.stderr);
  });
});

Deno.test("verify falls back to paging, skips entries without a lead, and survives an export without custom_fields", async () => {
  await withSandbox({ exportCustomFields: "columns" }, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf(people(3)));
    assert.equal((await runCli(["push", csv, "--campaign-id", "1"], { env })).code, 0);
    sb.state.rosterNulls = { lead: 2, email: 1 };
    // Custom fields as columns: ids and membership are read, values are not compared.
    const cols = await runCli(["verify", "--campaign-id", "1", "--json"], { env });
    assert.equal(cols.code, 0, cols.stderr);
    const c = JSON.parse(cols.stdout);
    assert.deepEqual(
      [c.source, c.skipped_entries, c.in_smartlead, c.fields_compared, c.fields_not_compared],
      ["export", 3, 3, 0, 3],
    );
    assert.equal(c.fields_note, "the export has no custom_fields column");

    sb.addFault({
      method: "GET",
      pathPattern: "leads-export",
      times: 1,
      fault: { kind: "status", status: 503, when: "before" },
    });
    const paged = await runCli(["verify", "--campaign-id", "1", "--json"], { env });
    assert.equal(paged.code, 0, paged.stderr);
    const p = JSON.parse(paged.stdout);
    assert.deepEqual(
      [p.source, p.export_fallback, p.skipped_entries, p.in_smartlead, p.fields_compared],
      ["pages", "HTTP 503: Service Unavailable", 3, 3, 3],
    );
    assert.match(paged.stderr, /^note: the campaign export could not be used \(HTTP 503/);
  });
});

Deno.test("drift over the limit is reported but not marked: Smartlead may report fields differently", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf(people(24)));
    assert.equal((await runCli(["push", csv, "--campaign-id", "1"], { env })).code, 0);
    for (const lead of sb.state.campaignLeads(1)) lead.custom_fields.System = "added by Smartlead";
    const r = await runCli(["verify", "--campaign-id", "1", "--repair", "--json"], { env });
    assert.equal(r.code, 9, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.deepEqual([report.field_drift.length, report.drift_marked], [24, 0]);
    const note = "24 of 24 compared leads differ, more than the 20 allowed: Smartlead probably " +
      "reports some fields differently from what was sent; not marked for update";
    assert.equal(report.drift_note, note);
    const human = await runCli(["verify", "--campaign-id", "1", "--repair"], { env });
    assert.equal(human.code, 9);
    assert.ok(
      human.stderr.includes(`\nfield drift: ${note} (raise --max-drift to mark them)\n`),
      human.stderr,
    );
    const plan = await runCli(["push", csv, "--campaign-id", "1", "--dry-run", "--json"], { env });
    assert.equal(summaryOf(plan).unchanged, 24); // nothing marked
    const forced = await runCli(
      ["verify", "--campaign-id", "1", "--repair", "--max-drift", "100%", "--json"],
      { env },
    );
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(JSON.parse(forced.stdout).drift_marked, 24);
    const plan2 = await runCli(["push", csv, "--campaign-id", "1", "--dry-run", "--json"], {
      env,
    });
    assert.equal((summaryOf(plan2).planned as { update: number }).update, 24);
    const bad = await runCli(["verify", "--campaign-id", "1", "--max-drift", "lots"], { env });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^error: --max-drift "lots": expected a whole number/);
  });
});

Deno.test("rebuildIndexFromCampaign: a fresh index from the campaign makes the next push a no-op", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    const rows = people(6).map((r) => [...r]);
    await Deno.writeTextFile(csv, csvOf(rows));
    assert.equal((await runCli(["push", csv, "--campaign-id", "1"], { env })).code, 0);
    // A front end without the first index (a new container) rebuilds one from Smartlead.
    const fresh = `${dir}/fresh.db`;
    const store = new IndexStore(fresh);
    const client = new SmartleadClient({ apiKey: sb.apiKey, baseUrl: sb.url });
    const { report, repair } = await rebuildIndexFromCampaign(client, store, 1, {
      origin: "tool",
    });
    store.close();
    assert.deepEqual(
      [report.source, report.in_smartlead, report.missing_from_index.length, repair.drift_marked],
      ["export", 6, 6, 0],
    );
    rows[4]![1] = "Changed";
    await Deno.writeTextFile(csv, csvOf(rows));
    const mark = sb.requests.length;
    const r = await runCli(["push", csv, "--campaign-id", "1", "--state", fresh, "--json"], {
      env,
    });
    const s = summaryOf(r);
    assert.deepEqual([s.added, s.updated, s.unchanged], [0, 1, 5]);
    assert.equal(sb.requests.length - mark, 2); // the campaign, one update by the known id
    assert.equal(sb.state.leads.get("p4@ex.com")!.first_name, "Changed");
  });
});

Deno.test("the sandbox sub-command takes the export format and the stale-id answer as flags", async () => {
  const sandbox = await sandboxCli([
    "--api-key",
    "demo-key-88",
    "--export-custom-fields",
    "columns",
    "--stale-lead-status",
    "500",
  ]);
  const { url } = sandbox.info;
  const dir = await tempDir();
  try {
    const env = { SMARTLEAD_BASE_URL: url, SMARTLEAD_API_KEY: "demo-key-88", XDG_STATE_HOME: dir };
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf(people(2)));
    assert.equal((await runCli(["push", csv, "--campaign-id", "1"], { env })).code, 0);
    const v = await runCli(["verify", "--campaign-id", "1", "--json"], { env });
    assert.equal(JSON.parse(v.stdout).fields_note, "the export has no custom_fields column");
    const stale = await fetch(`${url}/campaigns/1/leads/42/pause?api_key=demo-key-88`, {
      method: "POST",
    });
    assert.deepEqual([stale.status, await stale.json()], [500, { error: "Invalid lead id" }]);
  } finally {
    await sandbox.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
