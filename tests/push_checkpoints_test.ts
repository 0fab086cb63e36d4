/**
 * `push()`'s checkpoints (`PushOptions.onCommitted`, what the Airbyte and Singer front ends
 * release STATE messages on), against the sandbox over HTTP: called as batches are recorded,
 * never with a row whose lead is not in the campaign yet, never decreasing, last with every
 * row; and never past a write Smartlead answered without applying.
 */
import assert from "node:assert/strict";
import { push, PushFailed } from "../lib/push.ts";
import { withSandbox } from "./helpers.ts";

const FAST = { requests: 10_000, windowMs: 1000 };

function csv(rows: Array<[string, string]>): string {
  return "email,first_name\n" + rows.map(([e, n]) => `${e},${n}`).join("\n") + "\n";
}

Deno.test("push() releases checkpoints as batches are recorded, each only once its rows' leads are in the campaign", async () => {
  await withSandbox({}, async ({ sb, dir }) => {
    const rows: Array<[string, string]> = [];
    for (let i = 0; i < 30; i++) rows.push([i === 3 ? "not an email" : `r${i}@ex.com`, `N${i}`]);
    await Deno.writeTextFile(`${dir}/in.csv`, csv(rows));
    const released: number[] = [];
    const summary = await push({
      inputs: [`${dir}/in.csv`],
      campaignId: 1,
      apiKey: sb.apiKey,
      baseUrl: sb.url,
      state: `${dir}/state`,
      rate: FAST,
      batchSize: 5,
      concurrency: 1,
      onCommitted: (n) => {
        assert.ok(n > (released.at(-1) ?? 0), `${n} after ${released}`);
        const inCampaign = new Set(sb.state.campaignLeads(1).map((l) => l.email));
        for (const [email] of rows.slice(0, n)) {
          if (email.includes("@")) assert.ok(inCampaign.has(email), `${n}: ${email}`);
        }
        released.push(n);
      },
    });
    assert.equal(summary.added, 29);
    assert.equal(released.at(-1), 30);
    // One batch in flight at a time: after the first is recorded the others are not yet.
    assert.ok(released.some((n) => n > 0 && n < 30), String(released));
  });
});

Deno.test("push() releases no checkpoint past a write Smartlead did not apply", async () => {
  await withSandbox({}, async ({ sb, dir }) => {
    const rows: Array<[string, string]> = [];
    for (let i = 0; i < 8; i++) rows.push([`r${i}@ex.com`, `N${i}`]);
    const base = {
      inputs: [`${dir}/in.csv`],
      campaignId: 1,
      apiKey: sb.apiKey,
      baseUrl: sb.url,
      state: `${dir}/state`,
      rate: FAST,
      batchSize: 5,
      concurrency: 1,
    };
    await Deno.writeTextFile(`${dir}/in.csv`, csv(rows));
    await push(base);
    sb.setBehaviour({ updateAnswer: "ok-false" });
    rows[2] = ["r2@ex.com", "changed"];
    await Deno.writeTextFile(`${dir}/in.csv`, csv(rows));
    const released: number[] = [];
    await assert.rejects(
      push({ ...base, onCommitted: (n) => released.push(n) }),
      (e) => e instanceof PushFailed && e.exitCode === 5,
    );
    // Rows 1-2 are unchanged (settled); row 3's update was not applied: nothing from it on.
    assert.ok(released.every((n) => n <= 2), String(released));
    assert.equal(sb.state.leads.get("r2@ex.com")!.first_name, "N2");
  });
});
