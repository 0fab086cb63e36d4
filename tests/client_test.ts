/**
 * The Smartlead client against a scripted HTTP server on port 0: auth and not-found
 * readings, retries, Retry-After, redaction, User-Agent.
 */
import assert from "node:assert/strict";
import { parseRetryAfter, SmartleadClient } from "../lib/client/smartlead.ts";
import { AuthError, CampaignNotFoundError, UnavailableError } from "../lib/errors.ts";
import { VERSION } from "../lib/version.ts";

const KEY = "client-test-key-8d2f";

interface Seen {
  url: string;
  headers: Headers;
  body: string;
}

/** Serves the scripted answers in order (the last one repeats); records requests. */
async function scripted(
  answers: Array<() => Response>,
  fn: (url: string, seen: Seen[]) => Promise<void>,
): Promise<void> {
  const seen: Seen[] = [];
  let i = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seen.push({ url: req.url, headers: req.headers, body: await req.text() });
    const answer = answers[Math.min(i++, answers.length - 1)]!;
    return answer();
  });
  try {
    await fn(`http://127.0.0.1:${server.addr.port}/api/v1`, seen);
  } finally {
    await server.shutdown();
  }
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) => () =>
  new Response(body === undefined ? "" : JSON.stringify(body), { status, headers });

const fast = { backoffBaseMs: 1, maxAttempts: 3 };

Deno.test("campaign: 200 with {} or an empty body is not found; 404 too; 401/403 are auth", async () => {
  for (
    const answer of [
      json(200, {}),
      json(200, undefined),
      json(404, { error: "Campaign not found" }),
    ]
  ) {
    await scripted([answer], async (url) => {
      const c = new SmartleadClient({ apiKey: KEY, baseUrl: url, ...fast });
      await assert.rejects(
        c.getCampaign(5),
        (e) => e instanceof CampaignNotFoundError && e.exitCode === 4,
      );
    });
  }
  for (const status of [401, 403]) {
    await scripted([
      json(status, { message: status === 401 ? "Invalid API Key" : "Access denied" }),
    ], async (url) => {
      const c = new SmartleadClient({ apiKey: KEY, baseUrl: url, ...fast });
      await assert.rejects(c.getCampaign(5), (e) => e instanceof AuthError && e.exitCode === 3);
      assert.equal(c.requests, 1); // not retried
    });
  }
  await scripted([json(200, { id: "5", name: "Q4", status: "ACTIVE" })], async (url) => {
    const c = new SmartleadClient({ apiKey: KEY, baseUrl: url, ...fast });
    assert.deepEqual(await c.getCampaign(5), { id: 5, name: "Q4", status: "ACTIVE" });
  });
});

Deno.test("requests carry the key in the query, a User-Agent, and JSON bodies", async () => {
  await scripted(
    [json(200, { ok: true, upload_count: 1, total_leads: 1, new_counter: 7 })],
    async (url, seen) => {
      const c = new SmartleadClient({ apiKey: KEY, baseUrl: url, ...fast });
      const r = await c.addLeads(9, [{ email: "a@x.com" }], { return_lead_ids: true });
      assert.equal(r.new_counter, 7); // unknown counters are kept
      const req = seen[0]!;
      assert.equal(new URL(req.url).searchParams.get("api_key"), KEY);
      assert.equal(new URL(req.url).pathname, "/api/v1/campaigns/9/leads");
      assert.equal(req.headers.get("user-agent"), `smartlead-sync/${VERSION}`);
      assert.deepEqual(JSON.parse(req.body), {
        lead_list: [{ email: "a@x.com" }],
        settings: { return_lead_ids: true },
      });
    },
  );
});

Deno.test("429 honours Retry-After; 5xx backs off; both bounded, then UnavailableError naming the last answer", async () => {
  await scripted([json(429, {}, { "retry-after": "1" }), json(200, { id: 1 })], async (url) => {
    const c = new SmartleadClient({ apiKey: KEY, baseUrl: url, ...fast });
    await c.getCampaign(1);
    // The limiter held the retry for the whole Retry-After (what it computed, not a stopwatch).
    const waited = c.limiter.waitedMs;
    assert.ok(waited > 900 && waited <= 1000, `waited ${waited} ms`);
    assert.deepEqual([c.requests, c.retries], [2, 1]);
  });
  await scripted([json(503, { message: "down for maintenance" })], async (url) => {
    const c = new SmartleadClient({ apiKey: KEY, baseUrl: url, ...fast });
    await assert.rejects(c.getCampaign(1), (e) => {
      assert.ok(e instanceof UnavailableError);
      assert.equal(e.exitCode, 5);
      assert.equal(
        e.message,
        "Smartlead is unavailable: GET /campaigns/1 failed 3 times (last: HTTP 503: down for maintenance)",
      );
      return true;
    });
    assert.equal(c.requests, 3);
  });
});

Deno.test("network errors are retried and their messages never carry the key", async () => {
  // A port nothing listens on.
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const c = new SmartleadClient({
    apiKey: KEY,
    baseUrl: `http://127.0.0.1:${port}/api/v1`,
    ...fast,
  });
  await assert.rejects(c.getCampaign(1), (e) => {
    assert.ok(e instanceof UnavailableError);
    assert.match(e.message, /failed 3 times \(last: network error: /);
    assert.ok(!e.message.includes(KEY), e.message);
    assert.ok(!(e.stack ?? "").includes(KEY));
    return true;
  });
});

Deno.test("parseRetryAfter: seconds, HTTP dates, garbage", () => {
  assert.equal(parseRetryAfter("3"), 3000);
  assert.equal(parseRetryAfter("0"), 0);
  assert.equal(parseRetryAfter("100000"), 600_000); // capped
  assert.equal(parseRetryAfter(null), undefined);
  assert.equal(parseRetryAfter("soon"), undefined);
  const inTwo = new Date(Date.now() + 2000).toUTCString();
  const ms = parseRetryAfter(inTwo)!;
  assert.ok(ms > 500 && ms <= 2000, String(ms));
});
