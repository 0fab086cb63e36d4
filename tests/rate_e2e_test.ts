/**
 * The real CLI against the sandbox's rate limits (tiny windows: the client's long window is
 * scaled with --rate-window) and the answers that are not Smartlead's: Cloudflare's block,
 * a wrong base URL, a deleted campaign. Outcomes only, never elapsed times.
 */
import assert from "node:assert/strict";
import { VERSION } from "../lib/version.ts";
import { runCli, sandboxCli, summaryOf, withSandbox } from "./helpers.ts";

async function leadsCsv(path: string, n: number, prefix = "r"): Promise<void> {
  const lines = ["email,first_name"];
  for (let i = 0; i < n; i++) lines.push(`${prefix}${i}@ex.com,R${i}`);
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
}

/** 8 per 800 ms, no Retry-After, no x-ratelimit headers, locked 800 ms after each 429. */
const LOCKOUT = {
  requests: 8,
  windowMs: 800,
  retryAfter: false,
  reset: "none",
  lockoutMs: 800,
} as const;

/** A client ceiling far above it (8 per 100 ms), its long window scaled to the sandbox's. */
const FAST = ["--rate", "8/0.1", "--rate-window", "0.8", "--batch-size", "10"];

Deno.test("a key locked out after each bare 429 is waited out, and its budget learnt", async () => {
  await withSandbox({ rate: LOCKOUT }, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await leadsCsv(csv, 300);
    const r = await runCli(["push", csv, "--campaign-id", "1", "--json", ...FAST], { env });
    assert.equal(r.code, 0, r.stderr);
    const s = summaryOf(r);
    assert.deepEqual([s.added, s.failed], [300, 0]);
    assert.equal(sb.state.campaignLeads(1).length, 300);
    const refused = sb.requests.filter((q) => q.status === 429).length;
    const budget = s.rate_budget as Record<string, number | string>;
    // The ceiling allows 64 per 800 ms and 31 requests are needed: refusals are certain.
    assert.ok(refused >= 1);
    assert.equal(budget.status_429, refused);
    assert.equal(s.retries, refused);
    assert.equal(budget.source, "learned");
    // It never settles above what the sandbox allows.
    assert.ok(
      (budget.requests as number) / (budget.window_ms as number) <= 8 / 800,
      JSON.stringify(budget),
    );
    // The same run with the old fixed 6 attempts would have failed: 429s are not attempts.
    assert.ok(refused <= 12, `${refused} refusals`);
  });
});

Deno.test("two jobs sharing one key both finish", async () => {
  await withSandbox({ rate: LOCKOUT, campaignIds: [1, 2] }, async ({ sb, dir, env }) => {
    await leadsCsv(`${dir}/a.csv`, 150, "a");
    await leadsCsv(`${dir}/b.csv`, 150, "b");
    const job = (c: string) =>
      runCli(
        ["push", `${dir}/${c === "1" ? "a" : "b"}.csv`, "--campaign-id", c, "--json", ...FAST],
        { env },
      );
    const [a, b] = await Promise.all([job("1"), job("2")]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(sb.state.campaignLeads(1).length, 150);
    assert.equal(sb.state.campaignLeads(2).length, 150);
    const refused = sb.requests.filter((q) => q.status === 429).length;
    const taken = [a, b].map((r) => (summaryOf(r).rate_budget as { status_429: number }));
    assert.equal(taken[0]!.status_429 + taken[1]!.status_429, refused);
  });
});

Deno.test("refused past --max-wait: exit 5 naming the wait, every lead left pending", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await leadsCsv(csv, 20);
    sb.addFault({
      method: "POST",
      pathPattern: "/campaigns/1/leads",
      times: 1000,
      fault: { kind: "rate_limit" },
    });
    const r = await runCli(
      [
        "push",
        csv,
        "--campaign-id",
        "1",
        "--json",
        "--rate",
        "10/0.1",
        "--rate-window",
        "0.395",
        "--max-wait",
        "1",
        "--concurrency",
        "1",
      ],
      { env },
    );
    assert.equal(r.code, 5, r.stderr);
    assert.match(
      r.stderr,
      /^error: Smartlead kept refusing requests \(HTTP 429, rate limit\) for [\d.]+ s; the next wait \([\d.]+ s\) would pass --max-wait 1 s \(last: POST \/campaigns\/1\/leads\) — another job may be using the same API key/m,
    );
    const s = summaryOf(r);
    assert.deepEqual([s.added, s.failed, s.exit_code], [0, 20, 5]);
    const refused = sb.requests.filter((q) => q.status === 429).length;
    // A first wait of 0.4 s fits in 1 s for sure (the next ones grow); then it stops asking.
    assert.ok(refused >= 2, `${refused}`);
    assert.equal((s.rate_budget as { status_429: number }).status_429, refused);
  });
});

Deno.test("Cloudflare's 403 'error code: 1010' is named as a CDN block, not a bad key", async () => {
  await withSandbox({ blockUserAgent: "smartlead-sync/" }, async ({ dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await leadsCsv(csv, 2);
    const r = await runCli(["push", csv, "--campaign-id", "1"], { env });
    assert.equal(r.code, 3);
    assert.equal(
      r.stderr,
      `error: Smartlead's CDN (Cloudflare) blocked the request (HTTP 403: error code: 1010): a block of this client, not a bad API key; it sent User-Agent: smartlead-sync/${VERSION} — the key was not checked: try from another network or IP, or report the block to Smartlead support quoting the User-Agent (run with --debug for the full answer)\n`,
    );
  });
});

Deno.test("a base URL without /api/v1 is named as wrong, not 'campaign not found'", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await leadsCsv(csv, 2);
    const root = sb.url.replace(/\/api\/v1$/, "");
    const r = await runCli(["push", csv, "--campaign-id", "1"], {
      env: { ...env, SMARTLEAD_BASE_URL: root },
    });
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      `error: the base URL ${root} looks wrong: GET /campaigns/{id} answered HTTP 404 with "{\\"message\\":\\"Not found\\"}", not a Smartlead answer — it lacks /api/v1: Smartlead's is https://server.smartlead.ai/api/v1\n`,
    );
    // The right URL with an unknown campaign is still "campaign not found".
    const r2 = await runCli(["push", csv, "--campaign-id", "9"], { env });
    assert.equal(r2.code, 4);
    assert.match(r2.stderr, /^error: campaign 9 not found — /);
  });
});

Deno.test("a deleted campaign (200 with an empty body) is 'campaign not found'", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await leadsCsv(csv, 2);
    sb.addFault({
      method: "GET",
      pathPattern: "/campaigns/1",
      times: 1,
      fault: { kind: "status", status: 200, when: "before", body: "" },
    });
    const r = await runCli(["push", csv, "--campaign-id", "1"], { env });
    assert.equal(r.code, 4);
    assert.match(r.stderr, /^error: campaign 1 not found — check --campaign-id/);
    assert.equal(sb.state.campaignLeads(1).length, 0);
  });
});

Deno.test("the sandbox sub-command's rate and Cloudflare options", async () => {
  const sandbox = await sandboxCli([
    "--rate",
    "1/60",
    "--no-retry-after",
    "--lockout",
    "60",
    "--reset",
    "none",
    "--block-user-agent",
    "curl/",
  ]);
  try {
    const { url, api_key } = sandbox.info;
    const get = async (agent = "smartlead-sync/test") => {
      const res = await fetch(`${url}/campaigns/1?api_key=${api_key}`, {
        headers: { "user-agent": agent },
      });
      return { status: res.status, headers: res.headers, body: await res.text() };
    };
    const ok = await get();
    assert.deepEqual([ok.status, ok.headers.get("x-ratelimit-limit")], [200, null]);
    const refused = await get();
    assert.deepEqual([refused.status, refused.headers.get("retry-after")], [429, null]);
    const blocked = await get("curl/8.5.0");
    assert.deepEqual([blocked.status, blocked.body], [403, "error code: 1010"]);
  } finally {
    await sandbox.stop();
  }
  const bad = await runCli(["sandbox", "--rate", "1/60", "--lockout", "forever"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^error: --lockout forever: expected seconds from 0 to 3600/);
  const badReset = await runCli(["sandbox", "--reset", "sometimes"]);
  assert.equal(badReset.code, 2);
  assert.match(badReset.stderr, /--reset.*sometimes/);
});
