/**
 * End-to-end (issue 8, §6): `--update-via add|lead`, the plan's requests and time, and
 * clearing a value emptied (or a custom field dropped) in the source, with the payload hash
 * of an unchanged lead kept as it was, across the index upgrade.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { countRequests, runCli, summaryOf, withSandbox } from "./helpers.ts";
import type { Sandbox } from "../lib/sandbox/server.ts";
import { payloadHash } from "../lib/hash.ts";
import { SCHEMA_VERSION } from "../lib/index/store.ts";

const HEADER = "email,first_name,company,Title,Notes";
const people = (n: number, title = "Eng") =>
  Array.from({ length: n }, (_, i) => `p${i}@ex.com,P${i},Co${i},${title},note ${i}`);
const write = (path: string, rows: string[]) =>
  Deno.writeTextFile(path, [HEADER, ...rows].join("\n") + "\n");

function indexFile(dir: string, sb: Sandbox): string {
  const u = new URL(sb.url);
  return `${dir}/state/smartlead-sync/${u.hostname}_${u.port}-campaign-1.db`;
}

Deno.test("--update-via add re-adds changed leads in batches: one request for 3 changes", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await write(csv, people(5));
    assert.equal((await runCli(["push", csv, "--campaign-id", "1"], { env })).code, 0);
    const rows = people(5);
    rows[1] = "p1@ex.com,P1,Co1,Manager,note 1";
    rows[3] = "p3@ex.com,Three,Co3,Eng,note 3";
    rows[4] = "p4@ex.com,P4,NewCo,Eng,note 4";
    await write(csv, rows);
    const before = countRequests(sb);
    const r = await runCli(
      ["push", csv, "--campaign-id", "1", "--update-via", "add", "--json"],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    const s = summaryOf(r);
    assert.deepEqual([s.added, s.updated, s.unchanged], [0, 3, 2]);
    const after = countRequests(sb);
    assert.deepEqual([after.adds - before.adds, after.updates - before.updates], [1, 0]);
    const lead = (e: string) => sb.state.leads.get(e)!;
    assert.deepEqual(
      [lead("p1@ex.com").custom_fields.Title, lead("p3@ex.com").first_name],
      ["Manager", "Three"],
    );
    assert.deepEqual([lead("p4@ex.com").company_name, lead("p4@ex.com").writes], ["NewCo", 2]);
    assert.equal(lead("p0@ex.com").writes, 1);
    // Recorded: the next run sends nothing; the config file's update_via works the same.
    const again = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
    assert.deepEqual([summaryOf(again).unchanged, summaryOf(again).requests], [5, 1]);
    rows[0] = "p0@ex.com,Zero,Co0,Eng,note 0";
    await write(csv, rows);
    await Deno.writeTextFile(`${dir}/cfg.json`, JSON.stringify({ update_via: "add" }));
    const mark = countRequests(sb);
    const viaConfig = await runCli(
      ["push", csv, "--campaign-id", "1", "--config", `${dir}/cfg.json`, "--json"],
      { env },
    );
    assert.equal(summaryOf(viaConfig).updated, 1);
    assert.equal(countRequests(sb).updates, mark.updates);
    assert.equal(lead("p0@ex.com").first_name, "Zero");
  });
});

Deno.test("the plan states each phase's requests and time at --rate, and names the cheaper path when updates would take long", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await write(csv, people(12));
    assert.equal((await runCli(["push", csv, "--campaign-id", "1"], { env })).code, 0);
    await write(csv, [...people(12, "Lead"), "new@ex.com,N,NCo,Eng,x"]);
    const gets = countRequests(sb).gets;
    const dry = await runCli(
      ["push", csv, "--campaign-id", "1", "--rate", "1/60", "--dry-run", "--json"],
      { env },
    );
    assert.equal(dry.code, 0, dry.stderr);
    const planned = summaryOf(dry).planned as Record<string, unknown>;
    assert.deepEqual(planned, {
      add: 1,
      update: 12,
      unchanged: 0,
      delete: 0,
      remove: 0,
      resume: 0,
      requests: { add: 1, update: 12, delete: 0 },
      estimated_ms: 13 * 60_000,
      update_via: "lead",
      rate: { requests: 1, window_ms: 60_000 },
      cheaper: { update_via: "add", requests: 1, estimated_ms: 60_000 },
    });
    assert.equal(countRequests(sb).gets, gets + 1); // the campaign check only
    const human = await runCli(["push", csv, "--campaign-id", "1", "--rate", "1/60", "--dry-run"], {
      env,
    });
    assert.match(
      human.stderr,
      /^requests: add 1, update 12 \(one per lead\), delete 0: about 13 min at 1 per 60 s\nupdating one lead per request takes about 12 min; --update-via add re-adds them in 1 requests \(about 60 s; see README, Updates\)$/m,
    );
    const viaAdd = await runCli(
      [
        "push",
        csv,
        "--campaign-id",
        "1",
        "--rate",
        "1/60",
        "--update-via",
        "add",
        "--dry-run",
        "--json",
      ],
      { env },
    );
    const p2 = summaryOf(viaAdd).planned as Record<string, unknown>;
    assert.deepEqual([p2.requests, p2.estimated_ms, p2.cheaper], [
      { add: 1, update: 1, delete: 0 },
      120_000,
      undefined,
    ]);
  });
});

Deno.test("a value emptied or a custom field dropped in the source is cleared in Smartlead, both ways of updating", async (t) => {
  for (const via of ["lead", "add"]) {
    await t.step(via, async () => {
      await withSandbox({}, async ({ sb, dir, env }) => {
        const csv = `${dir}/leads.csv`;
        await write(csv, people(2));
        assert.equal((await runCli(["push", csv, "--campaign-id", "1"], { env })).code, 0);
        // p0: company emptied; the Notes column is gone for everyone.
        await Deno.writeTextFile(
          csv,
          "email,first_name,company,Title\np0@ex.com,P0,,Eng\np1@ex.com,P1,Co1,Eng\n",
        );
        const mark = sb.requests.length;
        const r = await runCli(
          ["push", csv, "--campaign-id", "1", "--update-via", via, "--json"],
          { env },
        );
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual([summaryOf(r).updated, summaryOf(r).unchanged], [2, 0]);
        const sent = sb.requests.slice(mark).filter((q) => q.method === "POST").flatMap((q) => {
          const b = q.body as { lead_list?: unknown[] };
          return b.lead_list ?? [b];
        }) as Array<{ email: string }>;
        sent.sort((a, b) => a.email.localeCompare(b.email));
        assert.deepEqual(sent, [
          {
            email: "p0@ex.com",
            first_name: "P0",
            company_name: "",
            custom_fields: { Title: "Eng", Notes: "" },
          },
          {
            email: "p1@ex.com",
            first_name: "P1",
            company_name: "Co1",
            custom_fields: { Title: "Eng", Notes: "" },
          },
        ]);
        const p0 = sb.state.leads.get("p0@ex.com")!;
        assert.deepEqual([p0.company_name, p0.custom_fields], [undefined, { Title: "Eng" }]);
        // The index now knows the smaller field set: nothing more to clear, nothing resent.
        const again = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
        assert.deepEqual([summaryOf(again).unchanged, summaryOf(again).requests], [2, 1]);
        const db = new DatabaseSync(indexFile(dir, sb), { readOnly: true });
        const sets = db.prepare(
          "select f.names, count(*) as n from leads l join field_sets f on f.id = l.field_set group by 1 order by 1",
        ).all();
        db.close();
        assert.deepEqual(sets.map((x) => ({ ...x })), [
          { names: '[["first_name","company_name"],["Title"]]', n: 1 },
          { names: '[["first_name"],["Title"]]', n: 1 },
        ]);
      });
    });
  }
});

Deno.test("upgrading an index synced before field sets resends nothing, then clears like any other", async () => {
  // The payload hash is the one every earlier version computed: a lead's canonical JSON.
  assert.equal(
    payloadHash('{"email":"a@ex.com","first_name":"A","custom_fields":{"Title":"Eng"}}'),
    "9ccf69c247732eed", // computed by main before this change,
  );
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await write(csv, people(3));
    assert.equal((await runCli(["push", csv, "--campaign-id", "1"], { env })).code, 0);
    // Make it the index an earlier version left: schema 2, no field sets.
    const path = indexFile(dir, sb);
    const db = new DatabaseSync(path);
    db.exec(`drop index leads_without_field_set; alter table leads drop column field_set;
      drop table field_sets; alter table leads drop column removed;
      update meta set value = '2' where key = 'schema_version'`);
    db.close();
    const before = countRequests(sb);
    const r = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([summaryOf(r).unchanged, summaryOf(r).requests], [3, 1]);
    assert.equal(countRequests(sb).all, before.all + 1);
    const check = new DatabaseSync(path, { readOnly: true });
    const version = check.prepare("select value from meta where key = 'schema_version'").get();
    const withSet = check.prepare("select count(*) as n from leads where field_set is not null")
      .get();
    check.close();
    assert.deepEqual([{ ...version }, { ...withSet }], [
      { value: String(SCHEMA_VERSION) },
      { n: 3 },
    ]);
    await Deno.writeTextFile(csv, "email,first_name,company,Title,Notes\np0@ex.com,P0,Co0,Eng,\n");
    const mark = sb.requests.length;
    const r2 = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
    assert.equal(summaryOf(r2).updated, 1);
    const body = sb.requests.slice(mark).find((q) => q.method === "POST")!.body;
    assert.deepEqual(body, {
      email: "p0@ex.com",
      first_name: "P0",
      company_name: "Co0",
      custom_fields: { Title: "Eng", Notes: "" },
    });
    assert.deepEqual(sb.state.leads.get("p0@ex.com")!.custom_fields, { Title: "Eng" });
  });
});
