/**
 * End-to-end (issue 8, §2): a 2xx is an applied batch whatever its body looks like; each
 * lead is decided from the id map and the counters, or confirmed from the campaign; an
 * update Smartlead did not apply is not recorded; the credit limit is read at any status.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { countRequests, runCli, summaryOf, withSandbox } from "./helpers.ts";
import type { Sandbox } from "../lib/sandbox/server.ts";
import type { AddAnswerShape } from "../lib/sandbox/behaviour.ts";

function indexFile(dir: string, sb: Sandbox): string {
  const u = new URL(sb.url);
  return `${dir}/state/smartlead-sync/${u.hostname}_${u.port}-campaign-1.db`;
}

/** email → [status, origin, lead_id] as the index has them. */
function indexed(path: string): Record<string, [string, string, number | null]> {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const rows = db.prepare("select email, status, origin, lead_id from leads order by email")
      .all() as Array<{ email: string; status: string; origin: string; lead_id: number | null }>;
    return Object.fromEntries(rows.map((r) => [r.email, [r.status, r.origin, r.lead_id]]));
  } finally {
    db.close();
  }
}

const idOf = (sb: Sandbox, email: string) => sb.state.leads.get(email)!.id;
const csvOf = (rows: string[][]) =>
  "email,first_name\n" + rows.map((r) => r.join(",")).join("\n") + "\n";

Deno.test("every add-leads answer shape is an applied batch: decided from counters, else confirmed from the campaign", async (t) => {
  const shapes: Array<[AddAnswerShape, { added: number; updated: number }]> = [
    ["live", { added: 2, updated: 1 }],
    ["strings", { added: 2, updated: 1 }],
    ["old-docs", { added: 2, updated: 1 }],
    ["sparse", { added: 3, updated: 0 }],
    ["empty", { added: 3, updated: 0 }],
    ["ok", { added: 3, updated: 0 }],
  ];
  for (const [shape, expected] of shapes) {
    await t.step(`${shape}, no id map`, async () => {
      await withSandbox(
        { behaviour: { addAnswer: shape, idMap: false } },
        async ({ sb, dir, env }) => {
          sb.state.addLeads(1, [{ email: "there@ex.com" }]); // someone else's, already in
          sb.state.blocklist.add("blocked@ex.com");
          const csv = `${dir}/leads.csv`;
          const rejects = `${dir}/rejects.ndjson`;
          await Deno.writeTextFile(
            csv,
            csvOf([["new1@ex.com", "N1"], ["new2@ex.com", "N2"], ["there@ex.com", "T"], [
              "blocked@ex.com",
              "B",
            ]]),
          );
          const r = await runCli(
            ["push", csv, "--campaign-id", "1", "--rejects", rejects, "--json"],
            { env },
          );
          assert.equal(r.code, 0, r.stderr);
          const s = summaryOf(r);
          assert.deepEqual(
            [s.added, s.updated, s.rejected_by_smartlead, s.failed, s.confirmed],
            [expected.added, expected.updated, 1, 0, 4],
          );
          // The campaign check, one add-leads request, and one lookup per unsure lead.
          assert.deepEqual(countRequests(sb), {
            adds: 1,
            updates: 0,
            deletes: 0,
            statuses: 0,
            gets: 5,
            all: 6,
          });
          assert.equal(
            sb.requests.filter((q) => q.path.startsWith("/api/v1/leads/?email=")).length,
            4,
          );
          // Not knowing which leads were there before, none is recorded as this tool's.
          assert.deepEqual(indexed(indexFile(dir, sb)), {
            "blocked@ex.com": ["rejected", "tool", null],
            "new1@ex.com": ["synced", "foreign", idOf(sb, "new1@ex.com")],
            "new2@ex.com": ["synced", "foreign", idOf(sb, "new2@ex.com")],
            "there@ex.com": ["synced", "foreign", idOf(sb, "there@ex.com")],
          });
          // With counters, they give the reason of the lead the campaign does not have.
          const rej = JSON.parse((await Deno.readTextFile(rejects)).trim());
          assert.deepEqual([rej.line, rej.reason], [
            5,
            ["live", "strings", "old-docs"].includes(shape)
              ? "Smartlead did not add it: global block list"
              : "Smartlead accepted the request but the lead is not in the campaign (its answer gave no reason)",
          ]);
          const again = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
          const s2 = summaryOf(again);
          assert.deepEqual([again.code, s2.unchanged, s2.skipped_rejected, s2.requests], [
            0,
            3,
            1,
            1,
          ]);
        },
      );
    });
  }
});

Deno.test("counters that account for every lead decide without a lookup, whatever their type", async () => {
  // "strings": the unsubscribed lead is named (a list), the counters decide the others.
  // "old-docs": unsubscribed_leads is a count: which lead it was is looked up.
  const cases = [["strings", 0, 2], ["old-docs", 3, 5]] as const;
  for (const [shape, confirmed, requests] of cases) {
    await withSandbox(
      { behaviour: { addAnswer: shape, idMap: false } },
      async ({ sb, dir, env }) => {
        sb.state.unsubscribed.add("gone@ex.com");
        const csv = `${dir}/leads.csv`;
        const rejects = `${dir}/rejects.ndjson`;
        await Deno.writeTextFile(
          csv,
          csvOf([["a@ex.com", "A"], ["b@ex.com", "B"], ["gone@ex.com", "G"]]),
        );
        const r = await runCli(
          ["push", csv, "--campaign-id", "1", "--rejects", rejects, "--json"],
          { env },
        );
        assert.equal(r.code, 0, r.stderr);
        const s = summaryOf(r);
        assert.deepEqual([s.added, s.rejected_by_smartlead, s.confirmed, s.requests], [
          2,
          1,
          confirmed,
          requests,
        ]);
        assert.equal((s.smartlead as Record<string, number>).total_leads, 2);
        const idx = indexed(indexFile(dir, sb));
        // total_leads 2 and already_added_to_campaign 0: both joined with this request.
        assert.deepEqual(idx["a@ex.com"]!.slice(0, 2), ["synced", "tool"]);
        assert.deepEqual(idx["gone@ex.com"], ["rejected", "tool", null]);
        const rej = JSON.parse((await Deno.readTextFile(rejects)).trim());
        assert.equal(rej.reason, "Smartlead: unsubscribed");
      },
    );
  }
});

Deno.test("a lead in existingLeadsInOtherCampaigns is decided by the counters, not by the setting", async () => {
  await withSandbox({ campaignIds: [1, 2] }, async ({ sb, dir, env }) => {
    sb.state.addLeads(2, [{ email: "shared@ex.com" }]);
    const id = idOf(sb, "shared@ex.com");
    // With the setting on, this answer says the lead was added all the same (one report
    // reads the setting that way): the counters win.
    sb.addFault({
      method: "POST",
      pathPattern: "/campaigns/1/leads",
      times: 1,
      fault: {
        kind: "status",
        status: 200,
        when: "after",
        body: JSON.stringify({
          ok: true,
          upload_count: 1,
          total_leads: 1,
          skipped_in_other_campaign_count: 0,
          already_added_to_campaign: 0,
          emailToLeadIdMap: {
            newlyAddedLeads: {},
            existingLeads: {},
            existingLeadsInOtherCampaigns: { "shared@ex.com": String(id) },
          },
        }),
      },
    });
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf([["shared@ex.com", "S"]]));
    const r = await runCli(
      ["push", csv, "--campaign-id", "1", "--ignore-duplicate-leads-in-other-campaign", "--json"],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    const s = summaryOf(r);
    assert.deepEqual([s.added, s.rejected_by_smartlead, s.confirmed], [1, 0, 0]);
    assert.deepEqual(indexed(indexFile(dir, sb))["shared@ex.com"], ["synced", "tool", id]);
  });
});

Deno.test("updates answered {ok:false} are not recorded: exit 5, pending, sent again next run", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf([["a@ex.com", "A"], ["b@ex.com", "B"], ["c@ex.com", "C"]]));
    assert.equal((await runCli(["push", csv, "--campaign-id", "1"], { env })).code, 0);
    sb.setBehaviour({ updateAnswer: "ok-false" });
    await Deno.writeTextFile(
      csv,
      csvOf([["a@ex.com", "A2"], ["b@ex.com", "B2"], ["c@ex.com", "C"]]),
    );
    const r = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
    assert.equal(r.code, 5, r.stderr);
    const s = summaryOf(r);
    assert.deepEqual([s.updated, s.failed, s.unchanged], [0, 2, 1]);
    assert.match(
      r.stderr,
      /^error: Smartlead did not apply 2 writes \(first: [ab]@ex\.com: ok: false without a reason\) — run the same command again/m,
    );
    assert.equal(sb.state.leads.get("a@ex.com")!.first_name, "A");
    const idx = indexed(indexFile(dir, sb));
    assert.deepEqual([idx["a@ex.com"]![0], idx["b@ex.com"]![0], idx["c@ex.com"]![0]], [
      "pending",
      "pending",
      "synced",
    ]);
    sb.setBehaviour({ updateAnswer: "ok" });
    const again = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual([summaryOf(again).updated, summaryOf(again).unchanged], [2, 1]);
    assert.equal(sb.state.leads.get("a@ex.com")!.first_name, "A2");
  });
});

Deno.test("is_lead_limit_exhausted is read in an answer of any status: exit 6 at once, not retried", async () => {
  for (const status of [403, 500]) {
    await withSandbox({}, async ({ sb, dir, env }) => {
      sb.addFault({
        method: "POST",
        pathPattern: "/campaigns/1/leads",
        times: 1,
        fault: {
          kind: "status",
          status,
          when: "before",
          body: JSON.stringify({
            ok: false,
            is_lead_limit_exhausted: true,
            lead_import_stopped_count: 3,
            error: "The lead credit limit has been reached, preventing any further lead imports.",
          }),
        },
      });
      const csv = `${dir}/leads.csv`;
      await Deno.writeTextFile(
        csv,
        csvOf([["a@ex.com", "A"], ["b@ex.com", "B"], ["c@ex.com", "C"]]),
      );
      const r = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
      assert.equal(r.code, 6, `${status}: ${r.stderr}`);
      const s = summaryOf(r);
      assert.deepEqual([s.added, s.failed, s.retries, countRequests(sb).adds], [0, 3, 0, 1]);
      const again = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
      assert.deepEqual([again.code, summaryOf(again).added], [0, 3]);
    });
  }
});

Deno.test("more than 20 unconfirmed leads are confirmed from the roster in one pass, not one lookup each", async () => {
  await withSandbox({ behaviour: { addAnswer: "empty" } }, async ({ sb, dir, env }) => {
    sb.state.blocklist.add("blocked@ex.com");
    const rows = Array.from({ length: 30 }, (_, i) => [`p${i}@ex.com`, `P${i}`]);
    rows.push(["blocked@ex.com", "B"]);
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf(rows));
    const r = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
    assert.equal(r.code, 0, r.stderr);
    const s = summaryOf(r);
    assert.deepEqual([s.added, s.rejected_by_smartlead, s.confirmed], [30, 1, 31]);
    // The campaign check, one add-leads request, one roster page (30 leads).
    assert.deepEqual(
      sb.requests.map((q) => `${q.method} ${q.path.replace(/[?&]api_key=[^&]*/, "")}`),
      [
        "GET /api/v1/campaigns/1",
        "POST /api/v1/campaigns/1/leads",
        "GET /api/v1/campaigns/1/leads?offset=0&limit=100",
      ],
    );
    assert.match(
      r.stderr,
      /^confirmed 31 leads from the campaign: Smartlead's answer did not say what it did with them$/m,
    );
  });
});
