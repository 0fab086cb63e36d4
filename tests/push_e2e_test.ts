/**
 * End-to-end: the real CLI against the sandbox over HTTP (issue: push foundation).
 */
import assert from "node:assert/strict";
import {
  countRequests,
  readAllFiles,
  runCli,
  summaryOf,
  TESTDATA,
  withSandbox,
} from "./helpers.ts";

const leadFields = (l: Record<string, unknown>) =>
  Object.fromEntries(
    Object.entries(l).filter(([k, v]) => v !== null && !["id", "created_at", "writes"].includes(k)),
  );

Deno.test("a messy CSV lands exactly as expected, field by field", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const rejects = `${dir}/rejects.ndjson`;
    const r = await runCli(
      ["push", `${TESTDATA}/messy.csv`, "--campaign-id", "1", "--rejects", rejects, "--json"],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    const s = summaryOf(r);
    assert.deepEqual(
      {
        rows: s.rows,
        valid: s.valid,
        rejected: s.rejected,
        dup: s.duplicates_in_input,
        added: s.added,
        updated: s.updated,
        failed: s.failed,
        requests: s.requests,
      },
      { rows: 6, valid: 3, rejected: 2, dup: 1, added: 3, updated: 0, failed: 0, requests: 2 },
    );
    assert.equal((s.smartlead as Record<string, number>).upload_count, 3);
    assert.equal((s.smartlead as Record<string, number>).total_leads, 3);
    const leads = sb.state.campaignLeads(1).map((l) =>
      leadFields(l as unknown as Record<string, unknown>)
    );
    assert.deepEqual(leads, [
      {
        email: "bob@example.org",
        first_name: "Bob",
        company_name: "Beta LLC",
        phone_number: "5550101",
        custom_fields: { "Job Title": "CTO", Notes: "line one\r\nline two" },
      },
      {
        email: "ann.lee@example.com",
        first_name: "Annie",
        last_name: "Lee",
        company_name: "Acme, Inc.",
        phone_number: "+1 555 0100",
        linkedin_profile: "https://linkedin.com/in/annlee",
        custom_fields: { "Job Title": "Chief Executive", tags: "vip,2026" },
      },
      {
        email: "eve@example.net",
        first_name: "Eve",
        last_name: "Evans",
        company_name: "Epsilon",
        custom_fields: {},
      },
    ]);
    const rej = (await Deno.readTextFile(rejects)).trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(rej.map((x) => [x.source, x.line, x.reason]), [
      [`${TESTDATA}/messy.csv`, 6, 'email: not a valid email address ("not-an-email"): no @'],
      [`${TESTDATA}/messy.csv`, 7, "email is empty"],
    ]);
    assert.equal(rej[0].row["First Name"], "Carl");
  });
});

Deno.test("NDJSON from stdin, with tags; a non-object line is a reject, not a crash", async () => {
  await withSandbox({}, async ({ sb, env }) => {
    const input = [
      '{"email":"x@ex.com","first_name":"X","score":42,"vip":true,"custom_fields":{"Plan":"pro"}}',
      "",
      '["not","an","object"]',
      '{"Email":"Y@EX.com","Company":"Why Co","tags":"a, b"}',
      "{broken json",
    ].join("\n") + "\n";
    const r = await runCli(["push", "--campaign-id", "1", "--tags", "b,c", "--json"], {
      env,
      stdin: input,
    });
    assert.equal(r.code, 0, r.stderr);
    const s = summaryOf(r);
    assert.equal(s.rows, 4);
    assert.equal(s.valid, 2);
    assert.equal(s.rejected, 2);
    assert.equal(s.added, 2);
    const leads = sb.state.campaignLeads(1).map((l) =>
      leadFields(l as unknown as Record<string, unknown>)
    );
    assert.deepEqual(leads, [
      {
        email: "x@ex.com",
        first_name: "X",
        custom_fields: { score: "42", vip: "true", Plan: "pro", tags: "b,c" },
      },
      { email: "y@ex.com", company_name: "Why Co", custom_fields: { tags: "a,b,c" } },
    ]);
  });
});

Deno.test("wrong key exits 3, unknown campaign exits 4, both before reading input", async () => {
  await withSandbox({ campaignIds: [1] }, async ({ env }) => {
    const bad = await runCli(["push", `${TESTDATA}/messy.csv`, "--campaign-id", "1"], {
      env: { ...env, SMARTLEAD_API_KEY: "wrong-key-123" },
    });
    assert.equal(bad.code, 3);
    assert.match(
      bad.stderr,
      /^error: Smartlead refused the API key \(HTTP 401: Invalid API Key\) — /,
    );
    assert.equal(bad.stderr.trim().split("\n").length, 1);
    assert.ok(!bad.stderr.includes("wrong-key-123"));
    const missing = await runCli(["push", `${TESTDATA}/messy.csv`, "--campaign-id", "999"], {
      env,
    });
    assert.equal(missing.code, 4);
    assert.match(missing.stderr, /^error: campaign 999 not found — /);
    const check = await runCli(["check", "--campaign-id", "999"], { env });
    assert.equal(check.code, 4);
    const ok = await runCli(["check", "--campaign-id", "1", "--json"], { env });
    assert.equal(ok.code, 0);
    assert.equal(JSON.parse(ok.stdout).campaign_id, 1);
  });
});

Deno.test("credit exhaustion exits 6 and says how many went in; the next run finishes", async () => {
  await withSandbox({ credits: 150 }, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    const lines = ["email,first_name"];
    for (let i = 0; i < 250; i++) lines.push(`lead${i}@ex.com,L${i}`);
    await Deno.writeTextFile(csv, lines.join("\n") + "\n");
    const r1 = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
    assert.equal(r1.code, 6, r1.stderr);
    assert.match(
      r1.stderr,
      /^error: Smartlead's lead credit limit is reached: 150 new leads went in this run/m,
    );
    assert.equal(summaryOf(r1).added, 150);
    assert.equal(sb.state.campaignLeads(1).length, 150);
    sb.setCredits(null);
    const r2 = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
    assert.equal(r2.code, 0, r2.stderr);
    const s2 = summaryOf(r2);
    assert.equal(s2.added, 100);
    assert.equal(s2.unchanged, 150);
    assert.equal(sb.state.campaignLeads(1).length, 250);
    const r3 = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
    assert.equal(summaryOf(r3).unchanged, 250);
    assert.equal(summaryOf(r3).requests, 1);
  });
});

Deno.test("--dry-run sends no write and reports the plan", async () => {
  await withSandbox({}, async ({ sb, env, dir }) => {
    const r = await runCli([
      "push",
      `${TESTDATA}/messy.csv`,
      "--campaign-id",
      "1",
      "--dry-run",
      "--json",
    ], { env });
    assert.equal(r.code, 0, r.stderr);
    const s = summaryOf(r);
    const { add, update, unchanged, delete: del, remove, resume } = s.planned as Record<
      string,
      number
    >;
    assert.deepEqual({ add, update, unchanged, delete: del, remove, resume }, {
      add: 3,
      update: 0,
      unchanged: 0,
      delete: 0,
      remove: 0,
      resume: 0,
    });
    assert.equal(s.added, 0);
    assert.equal(countRequests(sb).adds, 0);
    assert.equal(sb.requests.every((q) => q.method === "GET"), true);
    // No index is created by a dry run.
    assert.equal(await Deno.stat(`${dir}/state`).then(() => true, () => false), false);
    // Without a key a dry run still works and makes no request at all.
    const { SMARTLEAD_API_KEY: _, ...noKey } = env;
    const before = sb.requests.length;
    const r2 = await runCli(["push", `${TESTDATA}/messy.csv`, "--campaign-id", "1", "--dry-run"], {
      env: noKey,
    });
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(sb.requests.length, before);
    assert.match(r2.stderr, /would add 3, update 0, leave 0 unchanged/);
  });
});

Deno.test("429 storms, 5xx and dropped connections lose nothing", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    const lines = ["email,first_name"];
    for (let i = 0; i < 500; i++) lines.push(`p${i}@ex.com,P${i}`);
    await Deno.writeTextFile(csv, lines.join("\n") + "\n");
    const adds = "/campaigns/1/leads";
    sb.addFault({
      method: "POST",
      pathPattern: adds,
      times: 3,
      fault: { kind: "rate_limit", retryAfter: 1 },
    });
    sb.addFault({
      method: "POST",
      pathPattern: adds,
      skip: 1,
      times: 2,
      fault: { kind: "status", status: 502, when: "before" },
    });
    sb.addFault({
      method: "POST",
      pathPattern: adds,
      skip: 1,
      times: 1,
      fault: { kind: "status", status: 502, when: "after" },
    });
    sb.addFault({
      method: "POST",
      pathPattern: adds,
      skip: 2,
      times: 1,
      fault: { kind: "drop", when: "after" },
    });
    sb.addFault({
      method: "POST",
      pathPattern: adds,
      skip: 1,
      times: 1,
      fault: { kind: "drop", when: "before" },
    });
    const r = await runCli(["push", csv, "--campaign-id", "1", "--backoff-ms", "20", "--json"], {
      env,
    });
    assert.equal(r.code, 0, r.stderr);
    const s = summaryOf(r);
    assert.equal(s.failed, 0);
    // A first load: leads Smartlead applied before an answer was lost were added by this
    // run, so they count as added when the resent batch finds them in the campaign.
    assert.deepEqual([s.added, s.updated], [500, 0]);
    // Every attempt the sandbox refused or dropped was retried once, and counted once.
    const refused = sb.requests.filter((q) => q.status !== 200).length;
    assert.ok(refused >= 6, `only ${refused} faults fired`);
    assert.deepEqual([s.requests, s.retries], [sb.requests.length, refused]);
    const emails = sb.state.campaignLeads(1).map((l) => l.email).sort();
    assert.equal(emails.length, 500);
    assert.equal(new Set(emails).size, 500);
    // Rerun: nothing left to send.
    const before = countRequests(sb).adds;
    const r2 = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
    assert.equal(summaryOf(r2).unchanged, 500);
    assert.equal(countRequests(sb).adds, before);
  });
});

Deno.test("still failing after the retries exits 5 and keeps the leads pending", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    sb.addFault({
      method: "POST",
      pathPattern: "/campaigns/1/leads",
      times: 100,
      fault: { kind: "status", status: 503, when: "before" },
    });
    const r = await runCli(
      [
        "push",
        `${TESTDATA}/messy.csv`,
        "--campaign-id",
        "1",
        "--max-attempts",
        "3",
        "--backoff-ms",
        "10",
        "--json",
      ],
      { env },
    );
    assert.equal(r.code, 5, r.stderr);
    assert.match(
      r.stderr,
      /^error: Smartlead is unavailable: POST \/campaigns\/1\/leads failed 3 times \(last: HTTP 503/m,
    );
    assert.equal(summaryOf(r).failed, 3);
    const st = await runCli(["state", "--campaign-id", "1", "--json"], { env });
    assert.deepEqual(JSON.parse(st.stdout).leads, { synced: 0, rejected: 0, pending: 3 });
    void dir;
  });
});

Deno.test("the API key appears nowhere: stdout, stderr, state, rejects, debug output", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    sb.addFault({
      method: "POST",
      pathPattern: "/campaigns/1/leads",
      times: 1,
      fault: { kind: "status", status: 500, when: "before" },
    });
    const rejects = `${dir}/rejects.ndjson`;
    const runs = [
      await runCli([
        "push",
        `${TESTDATA}/messy.csv`,
        "--campaign-id",
        "1",
        "--rejects",
        rejects,
        "--debug",
        "--backoff-ms",
        "5",
      ], { env }),
      await runCli(["push", `${TESTDATA}/messy.csv`, "--campaign-id", "1", "--json", "--verbose"], {
        env,
      }),
      await runCli([
        "push",
        `${TESTDATA}/messy.csv`,
        "--campaign-id",
        "1",
        "--api-key",
        `${sb.apiKey}x`,
      ], { env }),
      await runCli(["state", "--campaign-id", "1", "--json"], { env }),
      await runCli(["verify", "--campaign-id", "1", "--json"], { env }),
    ];
    assert.equal(runs[0]!.code, 0, runs[0]!.stderr);
    assert.match(runs[0]!.stderr, /api_key=\*\*\*/); // debug lines show the URL, redacted
    assert.equal(runs[2]!.code, 3);
    for (const r of runs) {
      assert.ok(!r.stdout.includes(sb.apiKey), r.stdout);
      assert.ok(!r.stderr.includes(sb.apiKey), r.stderr);
    }
    const files = await readAllFiles(dir);
    assert.ok(files.length >= 3);
    for (const f of files) assert.ok(!f.text.includes(sb.apiKey), f.path);
  });
});

Deno.test("usage errors exit 2 with one line and no stack", async () => {
  await withSandbox({}, async ({ dir, env }) => {
    const cases: Array<[string[], RegExp]> = [
      [["push", "--campaign-id", "1", "--bogus"], /unknown option '--bogus'/],
      [
        ["push", `${dir}/nope.csv`, "--campaign-id", "1"],
        /^error: cannot read .*nope\.csv: no such file — /,
      ],
      [["push", `${TESTDATA}/messy.csv`], /^error: no campaign id — /],
      [
        ["push", `${TESTDATA}/messy.csv`, "--campaign-id", "1", "--batch-size", "401"],
        /^error: --batch-size "401": expected a whole number from 1 to 400/,
      ],
      [
        ["push", `${TESTDATA}/messy.csv`, "--campaign-id", "1", "--rate", "fast"],
        /^error: --rate "fast": expected n\/seconds/,
      ],
      [
        ["push", `${TESTDATA}/messy.csv`, "--campaign-id", "1", "--max-wait", "0"],
        /^error: --max-wait "0": expected a whole number from 1 to 86400/,
      ],
      [
        ["push", `${TESTDATA}/messy.csv`, "--campaign-id", "1", "--rate-window", "soon"],
        /^error: --rate-window "soon": expected seconds, more than 0 and at most 3600/,
      ],
      [
        ["push", `${TESTDATA}/messy.csv`, "--campaign-id", "1", "--map", "company=Company"],
        /^error: --map "company=Company": unknown field "company"/,
      ],
    ];
    await Deno.writeTextFile(`${dir}/noemail.csv`, "name,company\nAnn,Acme\n");
    cases.push([
      ["push", `${dir}/noemail.csv`, "--campaign-id", "1"],
      /^error: .*noemail\.csv: line 1: no email column \(columns: "name", "company"\) — /,
    ]);
    for (const [args, re] of cases) {
      const r = await runCli(args, { env });
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.ok(!r.stderr.includes("    at "), r.stderr);
      assert.equal(r.stdout, "");
    }
  });
});

Deno.test("--verbose prints each batch's Smartlead counters after the summary", async () => {
  await withSandbox({}, async ({ dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, "email\na@ex.com\nb@ex.com\nc@ex.com\n");
    // One request at a time, so that the batches are answered (and listed) in order.
    const r = await runCli([
      "push",
      csv,
      "--campaign-id",
      "1",
      "--batch-size",
      "2",
      "--concurrency",
      "1",
      "--verbose",
    ], {
      env,
    });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stderr.trim().split("\n");
    assert.deepEqual(lines.slice(0, 2), [
      "campaign 1: 3 rows read, 3 valid, 0 rejected, 0 duplicates in the input",
      "added 3, updated 0, unchanged 0",
    ]);
    assert.match(lines[3]!, /^batch 1: upload_count=2 total_leads=2 .*already_added_to_campaign=0/);
    assert.match(lines[4]!, /^batch 2: upload_count=1 total_leads=1 /);
    assert.equal(lines.length, 5);
  });
});

Deno.test("a header-only file without an email column is still an input error, at its line", async () => {
  await withSandbox({}, async ({ dir, env }) => {
    await Deno.writeTextFile(`${dir}/h.csv`, "\nname,company\n");
    const r = await runCli(["push", `${dir}/h.csv`, "--campaign-id", "1", "--dry-run"], { env });
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /^error: .*h\.csv: line 2: no email column \(columns: "name", "company"\) — /,
    );
    await Deno.writeTextFile(`${dir}/ok.csv`, "email,name\n");
    const ok = await runCli(
      ["push", `${dir}/ok.csv`, "--campaign-id", "1", "--dry-run", "--json"],
      { env },
    );
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(summaryOf(ok).rows, 0);
  });
});
