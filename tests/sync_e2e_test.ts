/**
 * End-to-end: the dedup index and the two sync modes, crash safety and locking.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { countRequests, runCli, summaryOf, withSandbox } from "./helpers.ts";
import type { Sandbox } from "../lib/sandbox/server.ts";
import { VERSION } from "../lib/version.ts";

function csvOf(rows: Array<[string, string, string]>): string {
  return "Email,First Name,Title\n" + rows.map((r) => r.join(",")).join("\n") + "\n";
}

function people(n: number, title = "Engineer"): Array<[string, string, string]> {
  return Array.from({ length: n }, (_, i) => [`person${i}@ex.com`, `P${i}`, title]);
}

/** Emails sent in add-leads bodies among the requests from index `from` on. */
function addedEmails(sb: Sandbox, from = 0): string[] {
  return sb.requests.slice(from).flatMap((r) =>
    r.method === "POST" && /\/campaigns\/\d+\/leads\?/.test(r.path) && r.status === 200
      ? ((r.body as { lead_list: Array<{ email: string }> }).lead_list.map((l) => l.email))
      : []
  );
}

function indexFile(dir: string, sb: Sandbox): string {
  const u = new URL(sb.url);
  return `${dir}/state/smartlead-sync/${u.hostname}_${u.port}-campaign-1.db`;
}

function syncedInIndex(path: string): Set<string> {
  try {
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      const rows = db.prepare("select email from leads where status = 'synced'").all() as Array<
        { email: string }
      >;
      return new Set(rows.map((r) => r.email));
    } finally {
      db.close();
    }
  } catch {
    return new Set();
  }
}

Deno.test("incremental: an unchanged rerun makes zero write requests; 3 changed + 2 new → 3 updates, 2 adds", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    const rows = people(20);
    await Deno.writeTextFile(csv, csvOf(rows));
    const r1 = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
    assert.equal(summaryOf(r1).added, 20);
    const after1 = countRequests(sb);

    const r2 = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
    const s2 = summaryOf(r2);
    assert.deepEqual([s2.added, s2.updated, s2.unchanged, s2.requests], [0, 0, 20, 1]);
    const after2 = countRequests(sb);
    assert.equal(
      after2.adds + after2.updates + after2.deletes,
      after1.adds + after1.updates + after1.deletes,
    );

    rows[3]![2] = "Manager";
    rows[7]![1] = "Seven";
    rows[11]![2] = "Director";
    rows.push(["new1@ex.com", "N1", "Intern"], ["new2@ex.com", "N2", "Intern"]);
    await Deno.writeTextFile(csv, csvOf(rows));
    const dry = await runCli(["push", csv, "--campaign-id", "1", "--json", "--dry-run"], { env });
    const { add, update, unchanged, delete: del, remove, resume, requests } = summaryOf(dry)
      .planned as Record<string, unknown>;
    assert.deepEqual({ add, update, unchanged, delete: del, remove, resume, requests }, {
      add: 2,
      update: 3,
      unchanged: 17,
      delete: 0,
      remove: 0,
      resume: 0,
      requests: { add: 1, update: 3, delete: 0 },
    });
    const mark = sb.requests.length;
    const r3 = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
    const s3 = summaryOf(r3);
    assert.deepEqual([s3.added, s3.updated, s3.unchanged], [2, 3, 17]);
    const writes = sb.requests.slice(mark).filter((r) => r.method !== "GET");
    assert.equal(writes.filter((r) => /\/leads\/\d+/.test(r.path)).length, 3);
    assert.deepEqual(addedEmails(sb, mark), ["new1@ex.com", "new2@ex.com"]);
    const byEmail = new Map(sb.state.campaignLeads(1).map((l) => [l.email, l]));
    assert.equal(byEmail.size, 22);
    assert.equal(byEmail.get("person3@ex.com")!.custom_fields.Title, "Manager");
    assert.equal(byEmail.get("person7@ex.com")!.first_name, "Seven");
    assert.equal(byEmail.get("person11@ex.com")!.custom_fields.Title, "Director");
    assert.equal(byEmail.get("person3@ex.com")!.writes, 2);
    assert.equal(byEmail.get("person4@ex.com")!.writes, 1);

    const r4 = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
    assert.equal(summaryOf(r4).unchanged, 22);
    assert.equal(summaryOf(r4).requests, 1);
  });
});

Deno.test("full refresh resends every row; --delete-missing removes exactly the missing ones", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    const rows = people(10);
    await Deno.writeTextFile(csv, csvOf(rows));
    await runCli(["push", csv, "--campaign-id", "1"], { env });
    const mark = sb.requests.length;
    const r = await runCli(
      ["push", csv, "--campaign-id", "1", "--mode", "full-refresh", "--json"],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(addedEmails(sb, mark).length, 10);
    assert.equal(summaryOf(r).updated, 10);

    const kept = rows.slice(0, 7);
    await Deno.writeTextFile(csv, csvOf(kept));
    const dry = await runCli(
      [
        "push",
        csv,
        "--campaign-id",
        "1",
        "--mode",
        "full-refresh",
        "--delete-missing",
        "--max-deletes",
        "3",
        "--dry-run",
      ],
      { env },
    );
    assert.equal(dry.code, 0, dry.stderr);
    assert.ok(
      dry.stderr.includes(
        "would delete 3 leads absent from this input:\n  person7@ex.com\n  person8@ex.com\n  person9@ex.com\n",
      ),
      dry.stderr,
    );
    assert.equal(sb.state.campaignLeads(1).length, 10);
    const del = await runCli(
      [
        "push",
        csv,
        "--campaign-id",
        "1",
        "--mode",
        "full-refresh",
        "--delete-missing",
        "--max-deletes",
        "30%",
        "--json",
      ],
      { env },
    );
    assert.equal(del.code, 0, del.stderr);
    assert.equal(summaryOf(del).deleted, 3);
    assert.deepEqual(
      sb.state.campaignLeads(1).map((l) => l.email),
      kept.map((k) => k[0]),
    );
    const st = await runCli(["state", "--campaign-id", "1", "--json"], { env });
    assert.deepEqual(JSON.parse(st.stdout).leads, { synced: 7, rejected: 0, pending: 0 });
  });
});

Deno.test("SIGKILL at several points, then rerun: complete, nothing resent after its 2xx was recorded", async () => {
  await withSandbox({ latencyMs: 40 }, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf(people(120)));
    const idx = indexFile(dir, sb);
    // One batch at a time, so that a kill observed at N recorded leads lands mid-run.
    const args = [
      "push",
      csv,
      "--campaign-id",
      "1",
      "--batch-size",
      "10",
      "--concurrency",
      "1",
      "--json",
    ];
    // Kill points: before any batch, then after 2, 5 and 8 of 12 batches.
    const killAt = [0, 20, 50, 80];
    let previous = 0;
    for (const target of killAt) {
      const mark = sb.requests.length;
      const recordedBefore = syncedInIndex(idx);
      const r = await runCli(args, {
        env,
        kill: target === 0
          ? { when: () => sb.requests.length > mark } // as soon as it reached Smartlead
          : { when: () => syncedInIndex(idx).size >= target },
      });
      assert.notEqual(r.code, 0, `run for kill point ${target} finished before the kill`);
      const recorded = syncedInIndex(idx);
      assert.ok(
        recorded.size >= previous && recorded.size < 120,
        `index has ${recorded.size} after kill at ${target}`,
      );
      previous = recorded.size;
      // Nothing recorded as synced before this run was sent again by it.
      const resent = addedEmails(sb, mark).filter((e) => recordedBefore.has(e));
      assert.deepEqual(resent, [], `resent by the run killed at ${target}`);
    }
    const mark = sb.requests.length;
    const before = syncedInIndex(idx);
    const fin = await runCli(args, { env });
    assert.equal(fin.code, 0, fin.stderr);
    assert.deepEqual(addedEmails(sb, mark).filter((e) => before.has(e)), []);
    assert.equal(addedEmails(sb, mark).length, 120 - before.size);
    const emails = sb.state.campaignLeads(1).map((l) => l.email);
    assert.equal(emails.length, 120);
    assert.equal(new Set(emails).size, 120);
    const again = await runCli(args, { env });
    assert.equal(summaryOf(again).unchanged, 120);
    assert.equal(summaryOf(again).requests, 1);
  });
});

Deno.test("a second concurrent run exits 7 naming the first; a killed run's lock is taken over", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf(people(30)));
    const args = ["push", csv, "--campaign-id", "1", "--batch-size", "5"];
    // The first run's add-leads is refused with a 10-minute Retry-After: it holds the lock
    // while it waits, for as long as the test needs (observed points, no wall-clock guesses).
    sb.addFault({
      method: "POST",
      pathPattern: "/campaigns/1/leads",
      times: 1,
      fault: { kind: "rate_limit", retryAfter: 600 },
    });
    let release = false;
    const first = runCli(args, { env, kill: { when: () => release } });
    const lockInfo = `${indexFile(dir, sb)}.lock.json`;
    while (!sb.requests.some((r) => r.status === 429)) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const holder = JSON.parse(await Deno.readTextFile(lockInfo));
    const second = await runCli(args, { env });
    assert.equal(second.code, 7, second.stderr);
    assert.match(
      second.stderr,
      new RegExp(
        `^error: the index .* is locked by another run \\(pid ${holder.pid} on .*, started ${holder.started_at}\\) — `,
      ),
    );
    // A run killed (SIGKILL) while holding the lock does not block the next one.
    release = true;
    assert.equal((await first).code, 137);
    const next = await runCli(args, { env });
    assert.equal(next.code, 0, next.stderr);
    assert.match(
      next.stderr,
      /note: the previous run \(pid \d+, started .*\) ended without finishing/,
    );
    assert.equal(sb.state.campaignLeads(1).length, 30);
  });
});

Deno.test("write applied but answer lost: nothing lost, and the next rerun sends nothing", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf(people(40)));
    const p = "/campaigns/1/leads";
    sb.addFault({
      method: "POST",
      pathPattern: p,
      times: 1,
      fault: { kind: "drop", when: "after" },
    });
    sb.addFault({
      method: "POST",
      pathPattern: p,
      skip: 1,
      times: 1,
      fault: { kind: "status", status: 502, when: "after" },
    });
    sb.addFault({
      method: "POST",
      pathPattern: p,
      skip: 1,
      times: 1,
      fault: { kind: "delay", ms: 1500 },
    });
    const r = await runCli([
      "push",
      csv,
      "--campaign-id",
      "1",
      "--batch-size",
      "10",
      "--timeout",
      "1",
      "--backoff-ms",
      "10",
      "--json",
    ], { env });
    assert.equal(r.code, 0, r.stderr);
    // Resent batches find their leads already in the campaign: added by this run all the same.
    assert.deepEqual([summaryOf(r).added, summaryOf(r).updated, summaryOf(r).failed], [40, 0, 0]);
    const emails = sb.state.campaignLeads(1).map((l) => l.email);
    assert.equal(emails.length, 40);
    assert.equal(new Set(emails).size, 40);
    const mark = countRequests(sb);
    const again = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
    assert.equal(summaryOf(again).unchanged, 40);
    const after = countRequests(sb);
    assert.equal(after.adds + after.updates, mark.adds + mark.updates);
  });
});

Deno.test("leads Smartlead refuses are recorded, reported, and retried only when changed or asked", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    sb.state.unsubscribed.add("gone@ex.com");
    const csv = `${dir}/leads.csv`;
    const rejects = `${dir}/rejects.ndjson`;
    await Deno.writeTextFile(csv, csvOf([["ok@ex.com", "Ok", "A"], ["gone@ex.com", "Gone", "B"]]));
    const r1 = await runCli(["push", csv, "--campaign-id", "1", "--rejects", rejects, "--json"], {
      env,
    });
    const s1 = summaryOf(r1);
    assert.deepEqual([s1.added, s1.rejected_by_smartlead, s1.rejected], [1, 1, 0]);
    const rej = JSON.parse((await Deno.readTextFile(rejects)).trim());
    assert.deepEqual([rej.line, rej.reason, rej.row.email], [
      3,
      "Smartlead: unsubscribed",
      "gone@ex.com",
    ]);
    const r2 = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
    assert.deepEqual([summaryOf(r2).skipped_rejected, summaryOf(r2).requests], [1, 1]);
    const r3 = await runCli(["push", csv, "--campaign-id", "1", "--retry-rejected", "--json"], {
      env,
    });
    assert.equal(summaryOf(r3).rejected_by_smartlead, 1);
    assert.equal(countRequests(sb).adds, 2);
  });
});

Deno.test("verify compares the roster with the index; --repair aligns them", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf(people(5)));
    await runCli(["push", csv, "--campaign-id", "1"], { env });
    const clean = await runCli(["verify", "--campaign-id", "1", "--json"], { env });
    assert.equal(clean.code, 0, clean.stderr);
    const { started_at: _s, finished_at: _f, ...report } = JSON.parse(clean.stdout);
    assert.deepEqual(report, {
      command: "verify",
      index: indexFile(dir, sb),
      campaign_id: 1,
      source: "export",
      export_fallback: null,
      skipped_entries: 0,
      in_smartlead: 5,
      in_index: 5,
      missing_from_index: [],
      missing_from_smartlead: [],
      lead_id_mismatches: [],
      field_drift: [],
      fields_compared: 5,
      fields_not_compared: 0,
      fields_note: null,
      status_mismatches: [],
      foreign: 0,
      repaired: false,
      drift_marked: 0,
      drift_note: null,
      exit_code: 0,
      error: null,
      hint: null,
      version: VERSION,
    });
    // Someone deletes a lead in Smartlead and adds another by hand.
    const victim = sb.state.campaignLeads(1)[1]!;
    sb.state.deleteLead(1, victim.id);
    sb.state.addLeads(1, [{ email: "manual@ex.com" }]);
    const differs = await runCli(["verify", "--campaign-id", "1", "--json"], { env });
    assert.equal(differs.code, 9, differs.stderr); // like git diff --exit-code
    const drift = JSON.parse(differs.stdout);
    assert.deepEqual(drift.missing_from_index, ["manual@ex.com"]);
    assert.deepEqual(drift.missing_from_smartlead, [victim.email]);
    const human = await runCli(["verify", "--campaign-id", "1"], { env });
    assert.equal(human.code, 9);
    assert.match(human.stderr, /they differ \(exit 9\): run verify --repair to fix the index\n$/);
    const repaired = await runCli(["verify", "--campaign-id", "1", "--repair", "--json"], { env });
    assert.equal(repaired.code, 0, repaired.stderr);
    const fixed = JSON.parse(repaired.stdout);
    assert.equal(fixed.repaired, true);
    assert.equal(fixed.foreign, 1); // manual@ex.com, which this tool did not add
    const agrees = await runCli(["verify", "--campaign-id", "1", "--json"], { env });
    assert.equal(agrees.code, 0, agrees.stderr);
    const after = JSON.parse(agrees.stdout);
    assert.deepEqual([after.missing_from_index, after.missing_from_smartlead], [[], []]);
    // The next push re-adds the deleted lead and nothing else.
    const mark = sb.requests.length;
    const again = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
    assert.equal(summaryOf(again).added, 1);
    assert.deepEqual(addedEmails(sb, mark), [victim.email]);
  });
});

Deno.test("reordering an export's columns is not a change", async () => {
  await withSandbox({}, async ({ dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(
      csv,
      "Email,First Name,Title,City\na@ex.com,Ann,CEO,Oslo\nb@ex.com,Bob,CTO,Rome\n",
    );
    assert.equal(
      summaryOf(await runCli(["push", csv, "--campaign-id", "1", "--json"], { env })).added,
      2,
    );
    await Deno.writeTextFile(
      csv,
      "City,Title,First Name,Email\nOslo,CEO,Ann,a@ex.com\nRome,CTO,Bob,b@ex.com\n",
    );
    const r = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
    assert.deepEqual([summaryOf(r).unchanged, summaryOf(r).updated, summaryOf(r).requests], [
      2,
      0,
      1,
    ]);
  });
});

Deno.test("--delete-missing keeps leads whose row is present but rejected for another reason", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf(people(3)));
    await runCli(["push", csv, "--campaign-id", "1"], { env });
    const rows = people(3);
    rows[1]![2] = "x".repeat(10_001); // person1's title is now too long: rejected, but present
    await Deno.writeTextFile(csv, csvOf(rows.slice(0, 2)));
    const r = await runCli(
      [
        "push",
        csv,
        "--campaign-id",
        "1",
        "--mode",
        "full-refresh",
        "--delete-missing",
        "--max-deletes",
        "1",
        "--json",
      ],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    const s = summaryOf(r);
    assert.deepEqual([s.rejected, s.deleted], [1, 1]);
    assert.deepEqual(sb.state.campaignLeads(1).map((l) => l.email), [
      "person0@ex.com",
      "person1@ex.com",
    ]);
    const st = JSON.parse(
      (await runCli(["state", "--campaign-id", "1", "--json"], { env })).stdout,
    );
    assert.equal(st.leads.synced, 2);
  });
});

Deno.test("SIGTERM stops cleanly: batches in flight are recorded, exit 143 with the summary, a rerun finishes", async () => {
  await withSandbox({ latencyMs: 60 }, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, csvOf(people(100)));
    const idx = indexFile(dir, sb);
    const args = [
      "push",
      csv,
      "--campaign-id",
      "1",
      "--batch-size",
      "10",
      "--concurrency",
      "1",
      "--json",
    ];
    const r = await runCli(args, {
      env,
      kill: { when: () => syncedInIndex(idx).size >= 20, signal: "SIGTERM" },
    });
    assert.equal(r.code, 143, r.stderr);
    assert.match(r.stderr, /SIGTERM: finishing the batches in flight, then stopping/);
    assert.match(
      r.stderr,
      /^error: stopped by SIGTERM: the batches in flight finished and are recorded — run the same command again/m,
    );
    const s = summaryOf(r);
    const recorded = syncedInIndex(idx);
    assert.ok((s.added as number) >= 20 && (s.added as number) < 100, `added ${s.added}`);
    assert.equal(recorded.size, s.added); // everything Smartlead confirmed is recorded
    assert.equal(sb.state.campaignLeads(1).length, s.added); // and nothing more was sent
    const mark = sb.requests.length;
    const again = await runCli(args, { env });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(summaryOf(again).added, 100 - (s.added as number));
    assert.deepEqual(addedEmails(sb, mark).filter((e) => recorded.has(e)), []);
  });
});
