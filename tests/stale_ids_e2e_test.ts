/**
 * End-to-end (issue 8, §4): leads deleted in Smartlead's UI behind the index's back. Their
 * ids answer 404, a bare 404, or 500 `Invalid lead id`; none of that fails a run: an update
 * becomes a re-add with the new data, a delete counts as already gone.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { countRequests, runCli, summaryOf, withSandbox } from "./helpers.ts";
import type { Sandbox } from "../lib/sandbox/server.ts";
import type { StaleIdAnswer } from "../lib/sandbox/behaviour.ts";

const csvOf = (rows: string[][]) =>
  "email,first_name\n" + rows.map((r) => r.join(",")).join("\n") + "\n";
const three = [["p0@ex.com", "A"], ["p1@ex.com", "B"], ["p2@ex.com", "C"]];

function leadIdInIndex(dir: string, sb: Sandbox, email: string): number | null {
  const u = new URL(sb.url);
  const db = new DatabaseSync(`${dir}/state/smartlead-sync/${u.hostname}_${u.port}-campaign-1.db`, {
    readOnly: true,
  });
  try {
    return (db.prepare("select lead_id from leads where email = ?").get(email) as {
      lead_id: number | null;
    }).lead_id;
  } finally {
    db.close();
  }
}

Deno.test("an update of a lead deleted in the UI becomes a re-add with its new data, whatever the stale id answers", async (t) => {
  for (const stale of ["404", "404-bare", "500"] as StaleIdAnswer[]) {
    await t.step(stale, async () => {
      await withSandbox({ behaviour: { staleId: stale } }, async ({ sb, dir, env }) => {
        const csv = `${dir}/leads.csv`;
        await Deno.writeTextFile(csv, csvOf(three));
        assert.equal((await runCli(["push", csv, "--campaign-id", "1"], { env })).code, 0);
        const oldId = sb.state.leads.get("p1@ex.com")!.id;
        assert.ok(sb.removeLead("p1@ex.com"));
        await Deno.writeTextFile(
          csv,
          csvOf([["p0@ex.com", "A"], ["p1@ex.com", "B2"], [
            "p2@ex.com",
            "C2",
          ]]),
        );
        const mark = sb.requests.length;
        const r = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
        assert.equal(r.code, 0, r.stderr);
        const s = summaryOf(r);
        assert.deepEqual([s.added, s.updated, s.unchanged, s.stale_ids, s.retries], [
          1,
          1,
          1,
          1,
          0,
        ]);
        // Two updates (one stale, answered at once), one re-add; no retry of the stale id.
        const writes = sb.requests.slice(mark).filter((q) => q.method === "POST");
        assert.deepEqual(
          writes.map((q) => [q.path.replace(/\?.*/, "").replace(/\d{6,}/, "ID"), q.status]).sort(),
          [
            ["/api/v1/campaigns/1/leads", 200],
            ["/api/v1/campaigns/1/leads/ID", 200],
            ["/api/v1/campaigns/1/leads/ID", stale === "500" ? 500 : 404],
          ],
        );
        const lead = sb.state.leads.get("p1@ex.com")!;
        assert.equal(lead.first_name, "B2");
        assert.notEqual(lead.id, oldId);
        assert.equal(leadIdInIndex(dir, sb, "p1@ex.com"), lead.id);
        assert.equal(sb.state.leads.get("p2@ex.com")!.first_name, "C2");
        const again = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
        assert.deepEqual([summaryOf(again).unchanged, summaryOf(again).requests], [3, 1]);
      });
    });
  }
});

Deno.test("--delete-missing with a stale id: counted as already gone, no retry, exit 0", async () => {
  await withSandbox({ behaviour: { staleId: "500" } }, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf(three));
    assert.equal((await runCli(["push", csv, "--campaign-id", "1"], { env })).code, 0);
    sb.removeLead("p2@ex.com");
    await Deno.writeTextFile(csv, csvOf(three.slice(0, 2)));
    const before = countRequests(sb);
    const r = await runCli(
      ["push", csv, "--campaign-id", "1", "--delete-missing", "--max-deletes", "1", "--json"],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    const s = summaryOf(r);
    assert.deepEqual([s.deleted, s.stale_ids, s.retries], [1, 1, 0]);
    assert.equal(countRequests(sb).deletes - before.deletes, 1);
    assert.equal(sb.requests.at(-1)!.status, 500);
    const st = await runCli(["state", "--campaign-id", "1", "--json"], { env });
    assert.deepEqual(JSON.parse(st.stdout).leads, { synced: 2, rejected: 0, pending: 0 });
  });
});

Deno.test("a bare 404 on delete is confirmed with GET /leads/?email=: gone, or deleted and re-added under a new id", async () => {
  await withSandbox({ behaviour: { staleId: "404-bare" } }, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf(three));
    assert.equal((await runCli(["push", csv, "--campaign-id", "1"], { env })).code, 0);
    sb.removeLead("p1@ex.com"); // gone for good
    sb.removeLead("p2@ex.com"); // removed, then added again by hand: a new id
    sb.state.addLeads(1, [{ email: "p2@ex.com" }]);
    await Deno.writeTextFile(csv, csvOf(three.slice(0, 1)));
    const mark = sb.requests.length;
    const r = await runCli(
      ["push", csv, "--campaign-id", "1", "--delete-missing", "--max-deletes", "2", "--json"],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    const s = summaryOf(r);
    assert.deepEqual([s.deleted, s.stale_ids], [2, 1]);
    assert.deepEqual(sb.state.campaignLeads(1).map((l) => l.email), ["p0@ex.com"]);
    const after = sb.requests.slice(mark).map((q) =>
      `${q.method} ${q.path.replace(/[?&]api_key=[^&]*/, "").replace(/\d{6,}/, "ID")} ${q.status}`
    );
    assert.deepEqual(after, [
      "GET /api/v1/campaigns/1 200",
      "DELETE /api/v1/campaigns/1/leads/ID 404",
      "GET /api/v1/leads/?email=p1%40ex.com 200",
      "DELETE /api/v1/campaigns/1/leads/ID 404",
      "GET /api/v1/leads/?email=p2%40ex.com 200",
      "DELETE /api/v1/campaigns/1/leads/ID 200",
    ]);
  });
});
