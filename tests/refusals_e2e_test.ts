/**
 * End-to-end (issue 8, §3): a 400 from Smartlead's validator names the refused lead; exactly
 * that lead is rejected with Smartlead's message and the rest resent in one request. A 400
 * about the request itself rejects no lead and stops the run; halving only when nothing is named.
 */
import assert from "node:assert/strict";
import { countRequests, runCli, summaryOf, withSandbox } from "./helpers.ts";

/** 400 leads; those at `wide` carry four custom fields, the others one. */
function csvWith(wide: readonly number[]): string {
  const lines = ["email,first_name,A,B,C,D"];
  for (let i = 0; i < 400; i++) {
    lines.push(wide.includes(i) ? `p${i}@ex.com,P${i},a,b,c,d` : `p${i}@ex.com,P${i},a,,,`);
  }
  return lines.join("\n") + "\n";
}

Deno.test("a custom-field cap: 4 refused leads in 400 cost 5 add-leads requests, each lead named by Smartlead", async () => {
  await withSandbox({ behaviour: { maxCustomFields: 3 } }, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    const rejects = `${dir}/rejects.ndjson`;
    await Deno.writeTextFile(csv, csvWith([5, 100, 250, 399]));
    const r = await runCli(
      ["push", csv, "--campaign-id", "1", "--batch-size", "400", "--rejects", rejects, "--json"],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    const s = summaryOf(r);
    assert.deepEqual([s.added, s.rejected_by_smartlead, s.failed], [396, 4, 0]);
    // 4 refusals, each resending the rest at once, then the accepted request (halving took 58).
    assert.deepEqual(countRequests(sb), {
      adds: 5,
      updates: 0,
      deletes: 0,
      statuses: 0,
      gets: 1,
      all: 6,
    });
    assert.equal(s.requests, 6);
    const rej = (await Deno.readTextFile(rejects)).trim().split("\n").map((l) => JSON.parse(l));
    // Positions in the request that refused them: each resend has one lead fewer.
    assert.deepEqual(rej.map((x) => [x.line, x.row.email, x.reason]), [
      [
        7,
        "p5@ex.com",
        'Smartlead refused it: "lead_list[5].custom_fields" must have less than or equal to 3 keys',
      ],
      [
        102,
        "p100@ex.com",
        'Smartlead refused it: "lead_list[99].custom_fields" must have less than or equal to 3 keys',
      ],
      [
        252,
        "p250@ex.com",
        'Smartlead refused it: "lead_list[248].custom_fields" must have less than or equal to 3 keys',
      ],
      [
        401,
        "p399@ex.com",
        'Smartlead refused it: "lead_list[396].custom_fields" must have less than or equal to 3 keys',
      ],
    ]);
    assert.equal(sb.state.campaignLeads(1).length, 396);
    // Refused with this payload: not sent again until it changes.
    const again = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
    assert.deepEqual([summaryOf(again).skipped_rejected, summaryOf(again).requests], [4, 1]);
  });
});

Deno.test("a 400 about the request itself (settings.*) rejects no lead: exit 2 with Smartlead's message", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    sb.addFault({
      method: "POST",
      pathPattern: "/campaigns/1/leads",
      times: 1,
      fault: {
        kind: "status",
        status: 400,
        when: "before",
        body: JSON.stringify({
          statusCode: 400,
          error: "Bad Request",
          message: '"settings.update" is not allowed',
          validation: { source: "body", keys: ["settings.update"] },
        }),
      },
    });
    const csv = `${dir}/leads.csv`;
    const rejects = `${dir}/rejects.ndjson`;
    await Deno.writeTextFile(csv, "email\na@ex.com\nb@ex.com\nc@ex.com\n");
    const r = await runCli(
      ["push", csv, "--campaign-id", "1", "--rejects", rejects, "--json"],
      { env },
    );
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /^error: Smartlead refused the request itself, not a lead: "settings\.update" is not allowed — no lead was rejected/m,
    );
    const s = summaryOf(r);
    assert.deepEqual([s.rejected_by_smartlead, s.failed, countRequests(sb).adds], [0, 3, 1]);
    assert.equal(await Deno.readTextFile(rejects), "");
    // The leads stayed pending: the next run sends them.
    const again = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
    assert.deepEqual([again.code, summaryOf(again).added], [0, 3]);
  });
});

Deno.test("a refusal that names nothing is narrowed down by halving", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    // Refuses the first three add-leads requests without naming anything: [4] → [2] → [1].
    sb.addFault({
      method: "POST",
      pathPattern: "/campaigns/1/leads",
      times: 3,
      fault: { kind: "status", status: 400, when: "before", body: '{"message":"Bad Request"}' },
    });
    const csv = `${dir}/leads.csv`;
    const rejects = `${dir}/rejects.ndjson`;
    await Deno.writeTextFile(csv, "email\na@ex.com\nb@ex.com\nc@ex.com\nd@ex.com\n");
    const r = await runCli(
      ["push", csv, "--campaign-id", "1", "--rejects", rejects, "--json"],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    const s = summaryOf(r);
    assert.deepEqual([s.added, s.rejected_by_smartlead, countRequests(sb).adds], [3, 1, 5]);
    const rej = JSON.parse((await Deno.readTextFile(rejects)).trim());
    assert.deepEqual([rej.row.email, rej.reason], [
      "a@ex.com",
      "Smartlead refused it: Bad Request",
    ]);
  });
});
