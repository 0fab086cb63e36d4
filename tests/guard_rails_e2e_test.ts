/**
 * End-to-end: the guard rails around deletes and rejects, who added a lead (so that an
 * index rebuilt by `verify --repair` deletes nothing by itself), and counts that add up.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { countRequests, runCli, summaryOf, withSandbox } from "./helpers.ts";
import type { Sandbox } from "../lib/sandbox/server.ts";
import { SCHEMA_VERSION } from "../lib/index/store.ts";

const emails = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `p${from + i}@ex.com`);
const csvOf = (list: readonly string[]) =>
  "email,first_name\n" + list.map((e) => `${e},${e.slice(0, e.indexOf("@"))}`).join("\n") + "\n";
const inCampaign = (sb: Sandbox) => sb.state.campaignLeads(1).map((l) => l.email).sort();
const writes = (sb: Sandbox) => sb.requests.filter((q) => q.method !== "GET").length;
/** The plan's counts, without its cost. */
const counts = (p: unknown) => {
  const { add, update, unchanged, delete: del, remove, resume } = p as Record<string, number>;
  return { add, update, unchanged, delete: del, remove, resume };
};

Deno.test("an input without a valid row never mirrors: exit 2, nothing deleted, even with --quiet", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf(emails(5)));
    assert.equal((await runCli(["push", csv, "--campaign-id", "1"], { env })).code, 0);
    const before = writes(sb);
    const headerOnly = `${dir}/header.csv`;
    await Deno.writeTextFile(headerOnly, "email,first_name\n");
    const allRejected = `${dir}/bad.csv`;
    await Deno.writeTextFile(allRejected, "email,first_name\nnot-an-email,A\n,B\n");
    const mirror = (input: string, ...more: string[]) =>
      runCli(["push", input, "--campaign-id", "1", "--max-deletes", "100%", ...more], { env });
    for (
      const [input, flags] of [
        [headerOnly, ["--delete-missing", "--quiet"]],
        [headerOnly, ["--mode", "full-refresh", "--delete-missing"]],
        [headerOnly, ["--mode", "full-refresh"]], // would forget every indexed lead
        [headerOnly, ["--delete-missing", "--dry-run"]],
        [allRejected, ["--delete-missing", "--max-rejects", "100%", "--quiet"]],
      ] as Array<[string, string[]]>
    ) {
      const r = await mirror(input, ...flags);
      assert.equal(r.code, 2, `${flags.join(" ")}: ${r.stderr}`);
      const what = flags.includes("--delete-missing") ? "--delete-missing" : "--mode full-refresh";
      assert.equal(
        r.stderr,
        `error: the input has no valid row, so ${what} would treat every indexed lead as gone; ` +
          "nothing was written — check the input; to empty a campaign, delete its leads in Smartlead\n",
      );
    }
    assert.equal(writes(sb), before);
    assert.deepEqual(inCampaign(sb), emails(5).sort());
    const st = JSON.parse(
      (await runCli(["state", "--campaign-id", "1", "--json"], { env })).stdout,
    );
    assert.equal(st.leads.synced, 5);
    // Without a mirror, a header-only input is simply nothing to do.
    const plain = await runCli(["push", headerOnly, "--campaign-id", "1", "--json"], { env });
    assert.equal(plain.code, 0, plain.stderr);
    assert.deepEqual([summaryOf(plain).rows, summaryOf(plain).unchanged], [0, 0]);
  });
});

Deno.test("the deletion limit stops the run before any write, prints the plan and how to allow it", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf(emails(20)));
    assert.equal((await runCli(["push", csv, "--campaign-id", "1"], { env })).code, 0);
    // 3 of 20 gone (15% > the default 10%), one new lead.
    const kept = [...emails(17), "new@ex.com"];
    await Deno.writeTextFile(csv, csvOf(kept));
    const gone = ["p17@ex.com", "p18@ex.com", "p19@ex.com"];
    const args = ["push", csv, "--campaign-id", "1", "--delete-missing", "--json"];
    const before = writes(sb);

    const r = await runCli(args, { env });
    assert.equal(r.code, 8, r.stderr);
    assert.equal(writes(sb), before); // not even the add
    assert.equal(
      r.stderr,
      "the plan: add 1, update 0, delete 3:\n  p17@ex.com\n  p18@ex.com\n  p19@ex.com\n" +
        "error: the plan deletes 3 of 20 indexed leads (15%); the default limit (10% of the " +
        "indexed leads, at most 1,000) allows 2; nothing was written — check the input (the " +
        "leads are listed with --dry-run); if these deletes are intended, run again with " +
        "--max-deletes 3 (or --max-deletes 15%)\n",
    );
    const s = summaryOf(r);
    assert.deepEqual(
      [s.exit_code, s.would_delete, s.would_delete_count, counts(s.planned), s.not_sent],
      [8, gone, 3, { add: 1, update: 0, unchanged: 17, delete: 3, remove: 3, resume: 0 }, 1],
    );

    // The dry run shows the same: the leads, in --json too, and the same exit code.
    const dry = await runCli([...args, "--dry-run"], { env });
    assert.equal(dry.code, 8, dry.stderr);
    assert.match(dry.stderr, /^would delete 3 leads absent from this input:\n {2}p17@ex\.com\n/);
    assert.deepEqual([summaryOf(dry).would_delete, summaryOf(dry).would_delete_count], [gone, 3]);
    assert.equal(writes(sb), before);

    // Allowed by a count, a share, or the config file: then the run deletes exactly those.
    const tooFew = await runCli([...args, "--max-deletes", "2"], { env });
    assert.equal(tooFew.code, 8);
    assert.match(tooFew.stderr, /; --max-deletes 2 allows 2; nothing was written — /);
    const config = `${dir}/conf.json`;
    await Deno.writeTextFile(config, JSON.stringify({ max_deletes: "15%" }));
    const dryOk = await runCli([...args, "--dry-run", "--config", config], { env });
    assert.equal(dryOk.code, 0, dryOk.stderr);
    assert.deepEqual(summaryOf(dryOk).would_delete, gone);
    const ok = await runCli([...args, "--max-deletes", "3"], { env });
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual([summaryOf(ok).deleted, summaryOf(ok).added], [3, 1]);
    assert.equal(summaryOf(ok).would_delete, undefined);
    assert.deepEqual(inCampaign(sb), kept.sort());

    const bad = await runCli([...args, "--max-deletes", "lots"], { env });
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /^error: --max-deletes "lots": expected a whole number \(e\.g\. 50\) or a percentage/,
    );
  });
});

Deno.test("a dry run lists the leads it would delete in --json: the first 1,000 and the count", async () => {
  await withSandbox({}, async ({ dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf(emails(1005)));
    const load = await runCli(["push", csv, "--campaign-id", "1", "--batch-size", "400"], { env });
    assert.equal(load.code, 0, load.stderr);
    await Deno.writeTextFile(csv, csvOf(["p0@ex.com"]));
    const r = await runCli(
      [
        "push",
        csv,
        "--campaign-id",
        "1",
        "--delete-missing",
        "--max-deletes",
        "100%",
        "--dry-run",
        "--json",
      ],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    const s = summaryOf(r);
    const all = emails(1004, 1).sort();
    assert.equal(s.would_delete_count, 1004);
    assert.deepEqual(s.would_delete, all.slice(0, 1000));
    assert.match(r.stderr, /\n {2}\.\.\. and 4 more\n/);
  });
});

Deno.test("verify --repair does not hand leads someone else added to --delete-missing", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf(emails(5)));
    assert.equal((await runCli(["push", csv, "--campaign-id", "1"], { env })).code, 0);
    // Someone adds a lead in Smartlead; verify --repair records it in the index.
    sb.state.addLeads(1, [{ email: "manual@ex.com" }]);
    const repair = await runCli(["verify", "--campaign-id", "1", "--repair", "--json"], { env });
    assert.equal(repair.code, 0, repair.stderr);
    assert.deepEqual(JSON.parse(repair.stdout).missing_from_index, ["manual@ex.com"]);

    // The export loses p4: only p4 goes; manual@ex.com is kept and reported.
    await Deno.writeTextFile(csv, csvOf(emails(4)));
    const args = ["push", csv, "--campaign-id", "1", "--delete-missing", "--max-deletes", "100%"];
    const dry = await runCli([...args, "--dry-run", "--json"], { env });
    assert.deepEqual(
      [summaryOf(dry).would_delete, summaryOf(dry).kept_foreign],
      [["p4@ex.com"], 1],
    );
    const r = await runCli(args, { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /^added 0, updated 0, unchanged 4, deleted 1, kept 1 absent but not added by smartlead-sync \(--delete-foreign deletes them\)$/m,
    );
    assert.deepEqual(inCampaign(sb), [...emails(4), "manual@ex.com"].sort());
    const again = await runCli([...args, "--json"], { env });
    assert.deepEqual([summaryOf(again).deleted, summaryOf(again).kept_foreign], [0, 1]);

    // Asked explicitly, it deletes them too.
    const foreign = await runCli([...args, "--delete-foreign", "--json"], { env });
    assert.equal(foreign.code, 0, foreign.stderr);
    assert.deepEqual([summaryOf(foreign).deleted, summaryOf(foreign).kept_foreign], [1, 0]);
    assert.deepEqual(inCampaign(sb), emails(4).sort());
  });
});

Deno.test("a lead already in the campaign before the tool sent it is someone else's; an unconfirmed batch's leads are the tool's", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    sb.state.addLeads(1, [{ email: "hand@ex.com" }]); // added by hand before the tool
    const csv = `${dir}/leads.csv`;
    const base = ["push", csv, "--campaign-id", "1", "--json"];
    await Deno.writeTextFile(csv, csvOf(["hand@ex.com", "p0@ex.com"]));
    const first = await runCli(base, { env });
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual([summaryOf(first).added, summaryOf(first).updated], [1, 1]);

    // The next batch is applied but Smartlead keeps answering 503: exit 5, leads pending.
    sb.addFault({
      method: "POST",
      pathPattern: "/campaigns/1/leads",
      times: 2,
      fault: { kind: "status", status: 503, when: "after" },
    });
    await Deno.writeTextFile(csv, csvOf(["hand@ex.com", ...emails(3)]));
    const lost = await runCli([...base, "--max-attempts", "2", "--backoff-ms", "1"], { env });
    assert.equal(lost.code, 5, lost.stderr);
    assert.deepEqual([summaryOf(lost).failed, summaryOf(lost).added], [2, 0]);
    assert.deepEqual(inCampaign(sb), ["hand@ex.com", ...emails(3)]); // applied all the same

    // The rerun finds p1 and p2 in the campaign: added by the unconfirmed batch, so by this
    // tool, and counted as added (not updated).
    const rerun = await runCli(base, { env });
    assert.equal(rerun.code, 0, rerun.stderr);
    const s = summaryOf(rerun);
    assert.deepEqual([s.added, s.updated, s.unchanged, s.requests], [2, 0, 2, 2]);

    // When they all leave the export, the tool deletes its own three and keeps hand@ex.com.
    await Deno.writeTextFile(csv, csvOf(["other@ex.com"]));
    const del = await runCli([...base, "--delete-missing", "--max-deletes", "100%"], { env });
    assert.equal(del.code, 0, del.stderr);
    assert.deepEqual([summaryOf(del).deleted, summaryOf(del).kept_foreign], [3, 1]);
    assert.deepEqual(inCampaign(sb), ["hand@ex.com", "other@ex.com"]);
  });
});

Deno.test("an index of schema 1 migrates to the current schema; its synced leads count as this tool's", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const answer = sb.state.addLeads(1, emails(3).map((email) => ({ email })));
    assert.ok(answer.ok && answer.total_leads === 3);
    const ids = new Map(sb.state.campaignLeads(1).map((l) => [l.email, l.id]));
    const path = `${dir}/v1.db`;
    const db = new DatabaseSync(path);
    db.exec(`create table meta(key text primary key, value text not null);
      create table leads(email text primary key, hash text not null, lead_id integer,
        status text not null check (status in ('synced','rejected','pending')), reason text,
        first_synced_at integer, last_synced_at integer, updated_at integer not null) without rowid;
      create table runs(id integer primary key, started_at integer not null,
        finished_at integer, mode text not null, exit_code integer, summary text);
      insert into meta values ('schema_version', '1');`);
    const insert = db.prepare("insert into leads values (?, 'h', ?, 'synced', null, 1, 1, 1)");
    for (const [email, id] of ids) insert.run(email, id);
    db.close();
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf(["p0@ex.com"]));
    const args = ["push", csv, "--campaign-id", "1", "--state", path, "--json"];
    // A dry run reads the old index as it is (read-only, not migrated).
    const dry = await runCli([...args, "--delete-missing", "--max-deletes", "2", "--dry-run"], {
      env,
    });
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(summaryOf(dry).would_delete, ["p1@ex.com", "p2@ex.com"]);
    const r = await runCli([...args, "--delete-missing", "--max-deletes", "2"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(summaryOf(r).deleted, 2);
    assert.deepEqual(inCampaign(sb), ["p0@ex.com"]);
    const st = JSON.parse(
      (await runCli(["state", "--campaign-id", "1", "--state", path, "--json"], { env })).stdout,
    );
    assert.equal(st.schema_version, SCHEMA_VERSION);
  });
});

Deno.test("a run in which every row was rejected exits 2 with the first reason; --max-rejects sets the bar", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf(emails(3)));
    const json = `${dir}/leads.json`;
    // A JSON array of strings, not of objects: nothing to map.
    await Deno.writeTextFile(json, '["a@ex.com", "b@ex.com"]\n');
    const cases: Array<[string[], string]> = [
      [
        [csv, "--format", "ndjson"],
        `every row was rejected (4 of 4) (first: ${csv}: line 1: invalid JSON at column 1: unexpected token 'e')`,
      ],
      [
        [json],
        `every row was rejected (2 of 2) (first: ${json}: line 1: element is a string, not a JSON object)`,
      ],
      [
        [csv, "--format", "ndjson", "--dry-run"],
        `every row was rejected (4 of 4) (first: ${csv}: line 1: invalid JSON at column 1: unexpected token 'e')`,
      ],
    ];
    for (const [input, what] of cases) {
      const r = await runCli(["push", ...input, "--campaign-id", "1"], { env });
      assert.equal(r.code, 2, r.stderr);
      assert.equal(
        r.stderr,
        `error: ${what}; nothing was written — check the input and its format (--format); ` +
          "the rejects file (--rejects) has every reason\n",
      );
    }
    assert.equal(countRequests(sb).adds, 0);

    // 2 of 5 rejected: over --max-rejects 1 (or 39%), within 40%.
    await Deno.writeTextFile(csv, csvOf(emails(3)) + "bad,B\n,C\n");
    for (const limit of ["1", "39%"]) {
      const r = await runCli(["push", csv, "--campaign-id", "1", "--max-rejects", limit], { env });
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `^error: 2 of 5 rows were rejected \\(40%\\) \\(first: .*: line 5: email: not a valid email address \\("bad"\\): no @\\), more than --max-rejects ${limit} allows; nothing was written — `,
        ),
      );
    }
    assert.equal(countRequests(sb).adds, 0);
    const ok = await runCli(
      ["push", csv, "--campaign-id", "1", "--max-rejects", "40%", "--json"],
      { env },
    );
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual([summaryOf(ok).added, summaryOf(ok).rejected], [3, 2]);
  });
});
