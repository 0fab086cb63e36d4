/**
 * End-to-end: `--missing pause|unsubscribe|delete` (history kept by pausing), paused leads
 * resumed when they come back, the guard rails of deletes applied to every removal, and stale
 * lead ids (404, or 500 "Invalid lead id") that never fail a run.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import type { Sandbox } from "../lib/sandbox/server.ts";
import type { Summary } from "../lib/pipeline/report.ts";
import {
  type CliResult,
  countRequests,
  runCli,
  summaryOf as summaryObject,
  withSandbox,
} from "./helpers.ts";

/** The checked `--json` summary of a push, typed. */
const summaryOf = (r: CliResult) => summaryObject(r) as unknown as Summary;

/** The plan's counts, without its cost estimate. */
const counts = (p: Summary["planned"]) => {
  const { add, update, unchanged, delete: del, remove, resume } = p;
  return { add, update, unchanged, delete: del, remove, resume };
};
const emails = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `p${from + i}@ex.com`);
const csvOf = (list: readonly string[]) =>
  "email,first_name\n" + list.map((e) => `${e},${e.slice(0, e.indexOf("@"))}`).join("\n") + "\n";

/** Each campaign member's status, by email. */
function statuses(sb: Sandbox): Record<string, string | undefined> {
  return Object.fromEntries(
    sb.state.campaignLeads(1).map((l) => [l.email, sb.state.statusOf(1, l.id)]),
  );
}

/** What the index records as removed by this tool, by email. */
function removedInIndex(sb: Sandbox, dir: string): Record<string, string> {
  const u = new URL(sb.url);
  const db = new DatabaseSync(
    `${dir}/state/smartlead-sync/${u.hostname}_${u.port}-campaign-1.db`,
    { readOnly: true },
  );
  const rows = db.prepare("select email, removed from leads where removed is not null").all();
  db.close();
  return Object.fromEntries(rows.map((r) => [String(r.email), String(r.removed)]));
}

/** Requests to one of pause/resume/unsubscribe, from index `from` on. */
const actions = (sb: Sandbox, what: string, from = 0) =>
  sb.requests.slice(from).filter((r) => r.method === "POST" && r.path.includes(`/${what}?`));

Deno.test("--missing pause pauses absent leads once, and resumes them when they come back", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf(emails(10)));
    assert.equal((await runCli(["push", csv, "--campaign-id", "1"], { env })).code, 0);
    await Deno.writeTextFile(csv, csvOf(emails(9)));
    const args = ["push", csv, "--campaign-id", "1", "--missing", "pause", "--json"];

    const dry = await runCli([...args, "--dry-run"], { env });
    assert.equal(dry.code, 0, dry.stderr);
    const d = summaryOf(dry);
    assert.deepEqual(
      [d.missing, d.would_remove, d.would_remove_count, d.would_delete, counts(d.planned)],
      ["pause", ["p9@ex.com"], 1, undefined, {
        add: 0,
        update: 0,
        unchanged: 9,
        delete: 0,
        remove: 1,
        resume: 0,
      }],
    );
    assert.match(dry.stderr, /^would pause 1 lead absent from this input:\n {2}p9@ex\.com\n/);
    assert.equal(countRequests(sb).statuses, 0);

    const r = await runCli(args, { env });
    assert.equal(r.code, 0, r.stderr);
    const s = summaryOf(r);
    assert.deepEqual([s.paused, s.deleted, s.already_gone], [1, 0, 0]);
    assert.equal(statuses(sb)["p9@ex.com"], "PAUSED");
    assert.equal(sb.state.campaignLeads(1).length, 10); // history kept: nothing deleted
    assert.deepEqual(removedInIndex(sb, dir), { "p9@ex.com": "paused" });
    // Already paused: a rerun does not pause it again.
    const again = await runCli(args, { env });
    assert.deepEqual([summaryOf(again).paused, counts(summaryOf(again).planned)], [0, {
      add: 0,
      update: 0,
      unchanged: 9,
      delete: 0,
      remove: 0,
      resume: 0,
    }]);
    assert.equal(actions(sb, "pause").length, 1);

    // Back in the input: resumed (a re-add alone would not), whatever --missing says.
    await Deno.writeTextFile(csv, csvOf(emails(10)));
    const mark = sb.requests.length;
    const back = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
    assert.equal(back.code, 0, back.stderr);
    const b = summaryOf(back);
    assert.deepEqual([b.resumed, b.unchanged, b.planned.resume], [1, 10, 1]);
    assert.equal(actions(sb, "resume", mark).length, 1);
    assert.equal(statuses(sb)["p9@ex.com"], "INPROGRESS");
    assert.deepEqual(removedInIndex(sb, dir), {});
    const human = await runCli(["push", csv, "--campaign-id", "1"], { env });
    assert.doesNotMatch(human.stderr, /resume/);
  });
});

Deno.test("--missing unsubscribe; an unsubscribed lead that comes back stays so, and says it", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf(emails(10)));
    await runCli(["push", csv, "--campaign-id", "1"], { env });
    await Deno.writeTextFile(csv, csvOf(emails(9)));
    const r = await runCli(["push", csv, "--campaign-id", "1", "--missing", "unsubscribe"], {
      env,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /\nadded 0, updated 0, unchanged 9, unsubscribed 1\n/);
    assert.equal(statuses(sb)["p9@ex.com"], "STOPPED");
    assert.deepEqual(removedInIndex(sb, dir), { "p9@ex.com": "unsubscribed" });
    await Deno.writeTextFile(csv, csvOf(emails(10)));
    const back = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
    const s = summaryOf(back);
    assert.deepEqual([s.still_unsubscribed, s.resumed, s.planned.resume], [1, 0, 0]);
    assert.match(back.stderr, /^note: 1 leads in this input were unsubscribed from the campaign/);
    assert.equal(countRequests(sb).statuses, 1);
  });
});

Deno.test("the removal limit, the empty-input rail and leads someone else added hold for pause too", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf(emails(20)));
    await runCli(["push", csv, "--campaign-id", "1"], { env });
    sb.state.addLeads(1, [{ email: "manual@ex.com" }]); // someone else's lead
    await runCli(["verify", "--campaign-id", "1", "--repair"], { env }); // index knows it
    await Deno.writeTextFile(csv, csvOf(emails(17)));
    const args = ["push", csv, "--campaign-id", "1", "--missing", "pause"];
    const stopped = await runCli([...args, "--json"], { env });
    assert.equal(stopped.code, 8, stopped.stderr);
    assert.match(
      stopped.stderr,
      /error: the plan pauses 3 of 21 indexed leads \(14\.3%\); the default limit .* allows 2; nothing was written — .* if these pauses are intended, run again with --max-deletes 3 \(or --max-deletes 15%\)\n$/,
    );
    const s = summaryOf(stopped);
    assert.deepEqual([s.would_remove, s.would_delete, s.kept_foreign], [
      ["p17@ex.com", "p18@ex.com", "p19@ex.com"],
      undefined,
      1,
    ]);
    assert.equal(countRequests(sb).statuses, 0);

    const ok = await runCli([...args, "--max-deletes", "3", "--json"], { env });
    assert.equal(summaryOf(ok).paused, 3);
    assert.equal(statuses(sb)["manual@ex.com"], "STARTED"); // not added by this tool: kept
    const all = await runCli([...args, "--delete-foreign", "--json"], { env });
    assert.equal(summaryOf(all).paused, 1);
    assert.equal(statuses(sb)["manual@ex.com"], "PAUSED");

    await Deno.writeTextFile(csv, "email,first_name\n");
    const empty = await runCli(args, { env });
    assert.equal(empty.code, 2);
    assert.match(
      empty.stderr,
      /^error: the input has no valid row, so --missing pause would treat every indexed lead as gone; nothing was written/,
    );
  });
});

Deno.test("--delete-missing is --missing delete; contradicting flags are refused; config missing", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf(emails(10)));
    await runCli(["push", csv, "--campaign-id", "1"], { env });
    await Deno.writeTextFile(csv, csvOf(emails(9)));
    const both = await runCli(
      ["push", csv, "--campaign-id", "1", "--missing", "pause", "--delete-missing"],
      { env },
    );
    assert.equal(both.code, 2);
    assert.equal(
      both.stderr,
      "error: --delete-missing and --missing pause disagree: --delete-missing means --missing delete — keep one of them\n",
    );
    const bad = await runCli(["push", csv, "--campaign-id", "1", "--missing", "archive"], { env });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--missing.*archive.*ignore, pause, unsubscribe, delete/);

    const config = `${dir}/smartlead-sync.jsonc`;
    await Deno.writeTextFile(config, '{ "missing": "pause" }');
    const fromFile = await runCli(
      ["push", csv, "--campaign-id", "1", "--config", config, "--json"],
      { env },
    );
    assert.deepEqual([summaryOf(fromFile).missing, summaryOf(fromFile).paused], ["pause", 1]);
    // The flag wins over the file; a paused lead is deleted like any other.
    const del = await runCli(
      ["push", csv, "--campaign-id", "1", "--config", config, "--delete-missing", "--json"],
      { env },
    );
    const s = summaryOf(del);
    assert.deepEqual([s.missing, s.deleted, s.would_delete], ["delete", 1, undefined]);
    assert.equal(sb.state.campaignLeads(1).length, 9);
  });
});

Deno.test("stale ids: a lead removed in the UI is already gone (404 or 500), never a failed run", async (t) => {
  for (const staleLeadStatus of [404, 500] as const) {
    await t.step(`answered ${staleLeadStatus}`, async () => {
      await withSandbox({ staleLeadStatus }, async ({ sb, dir, env }) => {
        const csv = `${dir}/leads.csv`;
        await Deno.writeTextFile(csv, csvOf(emails(20)));
        await runCli(["push", csv, "--campaign-id", "1"], { env });
        const byEmail = new Map(sb.state.campaignLeads(1).map((l) => [l.email, l.id]));
        // p19 deleted in the UI; p18 deleted and added again by hand (a new lead id).
        sb.state.deleteLead(1, byEmail.get("p19@ex.com")!);
        sb.state.deleteLead(1, byEmail.get("p18@ex.com")!);
        sb.state.addLeads(1, [{ email: "p18@ex.com" }]);
        await Deno.writeTextFile(csv, csvOf(emails(18)));
        const mark = sb.requests.length;
        const r = await runCli(
          ["push", csv, "--campaign-id", "1", "--missing", "pause", "--json"],
          { env },
        );
        assert.equal(r.code, 0, r.stderr);
        const s = summaryOf(r);
        assert.deepEqual([s.paused, s.already_gone, s.retries], [1, 1, 0]);
        assert.equal(statuses(sb)["p18@ex.com"], "PAUSED");
        // One refused pause each (not retried), a lookup each, one pause by the new id.
        assert.equal(actions(sb, "pause", mark).length, 3);
        assert.equal(
          sb.requests.slice(mark).filter((q) => q.path.startsWith("/api/v1/leads/?")).length,
          2,
        );
        assert.deepEqual(removedInIndex(sb, dir), { "p18@ex.com": "paused" });
        const st = JSON.parse(
          (await runCli(["state", "--campaign-id", "1", "--json"], { env })).stdout,
        );
        assert.equal(st.leads.synced, 19); // p19 forgotten
        assert.deepEqual(st.removed, { paused: 1, unsubscribed: 0 });
      });
    });
  }
});

Deno.test("a paused lead deleted in the UI that comes back is added again in the same run", async () => {
  await withSandbox({ staleLeadStatus: 500 }, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf(emails(10)));
    await runCli(["push", csv, "--campaign-id", "1"], { env });
    await Deno.writeTextFile(csv, csvOf(emails(9)));
    await runCli(["push", csv, "--campaign-id", "1", "--missing", "pause"], { env });
    const p9 = sb.state.campaignLeads(1).find((l) => l.email === "p9@ex.com")!;
    sb.state.deleteLead(1, p9.id);
    await Deno.writeTextFile(csv, csvOf(emails(10)));
    const r = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
    assert.equal(r.code, 0, r.stderr);
    const s = summaryOf(r);
    assert.deepEqual(
      [s.resumed, s.already_gone, s.added, s.unchanged, s.planned.add, s.planned.unchanged],
      [0, 1, 1, 9, 1, 9],
    );
    assert.equal(statuses(sb)["p9@ex.com"], "STARTED");
    assert.deepEqual(removedInIndex(sb, dir), {});
  });
});

Deno.test("a full refresh with --missing pause keeps the paused leads in the index, to resume them", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf(emails(10)));
    await runCli(["push", csv, "--campaign-id", "1"], { env });
    await Deno.writeTextFile(csv, csvOf(emails(9)));
    const full = ["push", csv, "--campaign-id", "1", "--mode", "full-refresh", "--json"];
    const r = await runCli([...full, "--missing", "pause"], { env });
    assert.deepEqual([summaryOf(r).paused, summaryOf(r).updated], [1, 9]);
    await Deno.writeTextFile(csv, csvOf(emails(10)));
    const back = await runCli(full, { env });
    assert.deepEqual([summaryOf(back).resumed, summaryOf(back).updated], [1, 10]);
    assert.equal(statuses(sb)["p9@ex.com"], "INPROGRESS");
  });
});

Deno.test("stale ids answering 500 'Invalid lead id' are not retried: a delete is already done, an update a re-add", async () => {
  await withSandbox({ staleLeadStatus: 500 }, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf(emails(20)));
    await runCli(["push", csv, "--campaign-id", "1"], { env });
    const byEmail = new Map(sb.state.campaignLeads(1).map((l) => [l.email, l.id]));
    sb.state.deleteLead(1, byEmail.get("p19@ex.com")!); // removed in the UI, then absent
    sb.state.deleteLead(1, byEmail.get("p0@ex.com")!); // removed in the UI, then changed
    const rows = emails(19);
    await Deno.writeTextFile(csv, csvOf(rows).replace("p0@ex.com,p0", "p0@ex.com,Zero"));
    const r = await runCli(["push", csv, "--campaign-id", "1", "--delete-missing", "--json"], {
      env,
    });
    assert.equal(r.code, 0, r.stderr);
    const s = summaryOf(r);
    assert.deepEqual([s.deleted, s.added, s.updated, s.retries], [1, 1, 0, 0]);
    assert.equal(sb.state.leads.get("p0@ex.com")!.first_name, "Zero");
    assert.equal(sb.state.campaignLeads(1).length, 19);
  });
});

Deno.test("verify sees a paused lead resumed by hand; --repair stops the tool from resuming it again", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf(emails(10)));
    await runCli(["push", csv, "--campaign-id", "1"], { env });
    await Deno.writeTextFile(csv, csvOf(emails(8)));
    const r = await runCli(
      ["push", csv, "--campaign-id", "1", "--missing", "pause", "--max-deletes", "2"],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    const ids = new Map(sb.state.campaignLeads(1).map((l) => [l.email, l.id]));
    sb.state.setLeadStatus(1, ids.get("p8@ex.com")!, "resume"); // someone resumes it by hand
    const v = await runCli(["verify", "--campaign-id", "1", "--json"], { env });
    assert.equal(v.code, 9, v.stderr);
    assert.deepEqual(JSON.parse(v.stdout).status_mismatches, [
      { email: "p8@ex.com", index: "paused", smartlead: "INPROGRESS" },
    ]);
    assert.equal((await runCli(["verify", "--campaign-id", "1", "--repair"], { env })).code, 0);
    assert.deepEqual(removedInIndex(sb, dir), { "p9@ex.com": "paused" });

    await Deno.writeTextFile(csv, csvOf(emails(10)));
    const dry = await runCli(["push", csv, "--campaign-id", "1", "--dry-run"], { env });
    assert.match(
      dry.stderr,
      /^would resume 1 leads paused by an earlier run, back in this input\n/,
    );
    assert.match(dry.stderr, /\nwould add 0, update 0, leave 10 unchanged, resume 1\n/);
    const mark = sb.requests.length;
    const back = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
    assert.equal(summaryOf(back).resumed, 1);
    assert.deepEqual(
      actions(sb, "resume", mark).map((q) => q.path.split("/")[6]),
      [String(ids.get("p9@ex.com"))],
    );
  });
});
