/**
 * Finding the campaign: `campaigns` lists the account's campaigns (GET /campaigns, read
 * leniently), and `check` without a campaign id checks the key alone.
 */
import assert from "node:assert/strict";
import { campaignList } from "../lib/client/schemas.ts";
import { outcomeOf, runCli, withSandbox } from "./helpers.ts";

Deno.test("campaigns lists id, status and name on stdout; --json prints one object", async () => {
  await withSandbox({ campaignIds: [7, 1234] }, async ({ sb, env }) => {
    const paused = sb.state.campaigns.get(1234)!;
    paused.status = "PAUSED";
    paused.name = "Q3 webinar follow-up";
    const r = await runCli(["campaigns"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      "ID    STATUS  NAME\n" +
        "7     ACTIVE  Sandbox campaign 7\n" +
        "1234  PAUSED  Q3 webinar follow-up\n",
    );
    assert.equal(r.stderr, "2 campaigns; push with --campaign-id <ID>\n");
    assert.deepEqual(
      sb.requests.map((q) => `${q.method} ${q.path}`),
      ["GET /api/v1/campaigns?api_key=***"],
    );
    const j = await runCli(["campaigns", "--json"], { env });
    assert.equal(j.code, 0, j.stderr);
    assert.equal(j.stderr, "");
    const o = outcomeOf(j, "campaigns");
    assert.equal(o.base_url, sb.url);
    assert.equal(o.count, 2);
    assert.deepEqual(o.campaigns, [
      { id: 7, name: "Sandbox campaign 7", status: "ACTIVE" },
      { id: 1234, name: "Q3 webinar follow-up", status: "PAUSED" },
    ]);
  });
});

Deno.test("campaigns: one campaign is singular, none says so", async () => {
  await withSandbox({ campaignIds: [5] }, async ({ sb, env }) => {
    const one = await runCli(["campaigns"], { env });
    assert.equal(one.stderr, "1 campaign; push with --campaign-id <ID>\n");
    sb.state.campaigns.clear();
    const none = await runCli(["campaigns"], { env });
    assert.equal(none.code, 0);
    assert.equal(none.stdout, "");
    assert.equal(none.stderr, `no campaigns in this account (${sb.url})\n`);
  });
});

Deno.test("campaigns reads a list wrapped in an object, and refuses an answer it cannot read", async () => {
  await withSandbox({}, async ({ sb, env }) => {
    sb.addFault({
      method: "GET",
      pathPattern: "/campaigns$",
      times: 1,
      fault: {
        kind: "status",
        status: 200,
        when: "before",
        body: JSON.stringify({
          ok: true,
          data: [{ id: "9", name: "Wrapped", status: "DRAFTED" }, { name: "no id" }],
        }),
      },
    });
    const r = await runCli(["campaigns", "--json"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(outcomeOf(r, "campaigns").campaigns, [
      { id: 9, name: "Wrapped", status: "DRAFTED" },
    ]);
    sb.addFault({
      method: "GET",
      pathPattern: "/campaigns$",
      times: 1,
      fault: { kind: "status", status: 200, when: "before", body: '{"message":"hello"}' },
    });
    const bad = await runCli(["campaigns"], { env });
    assert.equal(bad.code, 5);
    assert.equal(
      bad.stderr,
      `error: Smartlead's answer to list campaigns was not understood: {"message":"hello"} — run again with --debug and report it\n`,
    );
  });
});

Deno.test("campaignList: the shapes it reads", () => {
  assert.deepEqual(campaignList([]), []);
  assert.deepEqual(campaignList([{ id: 1, name: "a", status: "ACTIVE", extra: 1 }]), [
    { id: 1, name: "a", status: "ACTIVE", extra: 1 },
  ]);
  assert.deepEqual(campaignList({ data: { campaigns: [{ id: "2" }] } }), [{ id: 2 }]);
  // The first array that holds campaigns, not merely the first array.
  assert.deepEqual(campaignList({ tags: [], campaigns: [{ id: 3 }] }), [{ id: 3 }]);
  assert.deepEqual(campaignList({ campaigns: [] }), []);
  assert.equal(campaignList({ message: "x" }), undefined);
  assert.equal(campaignList([{ name: "no id" }]), undefined);
  assert.equal(campaignList(null), undefined);
  assert.equal(campaignList("success"), undefined);
});

Deno.test("campaigns with a wrong key exits 3, with --json too", async () => {
  await withSandbox({}, async ({ env }) => {
    const r = await runCli(["campaigns", "--json"], {
      env: { ...env, SMARTLEAD_API_KEY: "wrong-key-77" },
    });
    assert.equal(r.code, 3);
    assert.match(String(outcomeOf(r, "campaigns").error), /^Smartlead refused the API key/);
  });
});

Deno.test("check without a campaign id checks the key alone and says so", async () => {
  await withSandbox({ campaignIds: [1, 2, 3] }, async ({ sb, dir, env }) => {
    const r = await runCli(["check"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stderr,
      "ok: the API key works (3 campaigns in the account); no campaign was checked: no campaign id given\n" +
        "smartlead-sync campaigns lists them; check --campaign-id <id> checks one\n",
    );
    assert.deepEqual(sb.requests.map((q) => q.path), ["/api/v1/campaigns?api_key=***"]);
    const j = await runCli(["check", "--json"], { env });
    const o = outcomeOf(j, "check");
    assert.deepEqual(
      [o.ok, o.campaign_id, o.campaigns, o.base_url],
      [true, null, 3, sb.url],
    );
    // A wrong key is still exit 3.
    const bad = await runCli(["check"], { env: { ...env, SMARTLEAD_API_KEY: "wrong-key-77" } });
    assert.equal(bad.code, 3);
    // init's placeholder counts as no campaign id, and is named.
    const init = await runCli(["init"], { cwd: dir, env });
    assert.equal(init.code, 0, init.stderr);
    const placeholder = await runCli(["check"], { cwd: dir, env });
    assert.equal(placeholder.code, 0, placeholder.stderr);
    assert.match(
      placeholder.stderr,
      /no campaign id given \(smartlead-sync\.jsonc still has the placeholder init wrote\)\n/,
    );
    // With a campaign id, the campaign is checked as before.
    const one = await runCli(["check", "--campaign-id", "2"], { env });
    assert.equal(
      one.stderr,
      'ok: the API key works and campaign 2 exists ("Sandbox campaign 2", ACTIVE)\n',
    );
  });
});
