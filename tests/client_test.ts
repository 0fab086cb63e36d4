/**
 * The Smartlead client against a scripted HTTP server on port 0: auth and not-found
 * readings, retries, Retry-After, redaction, User-Agent.
 */
import assert from "node:assert/strict";
import { parseRetryAfter, SmartleadClient } from "../lib/client/smartlead.ts";
import { DEFAULT_TIMEOUT_MS } from "../lib/client/smartlead.ts";
import { AuthError, CampaignNotFoundError, UnavailableError, UsageError } from "../lib/errors.ts";
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

/** A clock that only moves when the client sleeps. */
function fakeClock() {
  const clock = {
    t: 0,
    sleeps: [] as number[],
    now: () => clock.t,
    epoch: () => 1_700_000_000_000 + clock.t,
    random: () => 0, // the jitter of repeated refusals at its least
    sleep: (ms: number) => {
      clock.sleeps.push(ms);
      clock.t += ms;
      return Promise.resolve();
    },
  };
  return clock;
}

Deno.test("429 honours Retry-After; 5xx backs off; both bounded, then UnavailableError naming the last answer", async () => {
  await scripted([json(429, {}, { "retry-after": "3" }), json(200, { id: 1 })], async (url) => {
    const clock = fakeClock();
    const c = new SmartleadClient({ apiKey: KEY, baseUrl: url, ...fast, clock });
    await c.getCampaign(1);
    assert.deepEqual(clock.sleeps, [3000]);
    assert.deepEqual([c.requests, c.retries, c.limiter.refusals], [2, 1, 1]);
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

Deno.test("a 429 without Retry-After waits a whole window, and 429s do not use up attempts", async () => {
  const answers = [
    ...Array.from({ length: 4 }, () => json(429, { message: "Rate limit exceeded" })),
    json(200, { id: 1 }),
  ];
  await scripted(answers, async (url) => {
    const clock = fakeClock();
    const c = new SmartleadClient({ apiKey: KEY, baseUrl: url, ...fast, clock });
    const waits: string[] = [];
    c.limiter.onWait = (ms, reason) => waits.push(`${ms} ${reason}`);
    await c.getCampaign(1); // 4 refusals, maxAttempts 3: still fine
    assert.equal(c.requests, 5);
    // One window, then growing: refused again right after each pause.
    assert.deepEqual(clock.sleeps, [60_050, 60_050, 120_100, 240_200]);
    assert.deepEqual(waits, clock.sleeps.map((ms) => `${ms} 429, waiting a window`));
  });
  await scripted(answers, async (url) => {
    const clock = fakeClock();
    const c = new SmartleadClient({
      apiKey: KEY,
      baseUrl: url,
      ...fast,
      clock,
      rateWindowMs: 500, // what --rate-window 0.5 does: the window and a bare 429's wait
    });
    await c.getCampaign(1);
    // Never less than the burst window.
    assert.deepEqual(clock.sleeps, [2050, 2050, 4100, 8200]);
  });
});

Deno.test("429s past --max-wait: UnavailableError after exactly the refusals that fit", async () => {
  await scripted([json(429, { message: "Rate limit exceeded" })], async (url, seen) => {
    const clock = fakeClock();
    const c = new SmartleadClient({
      apiKey: KEY,
      baseUrl: url,
      ...fast,
      clock,
      maxWaitMs: 300_000,
    });
    await assert.rejects(c.getCampaign(1), (e) => {
      assert.ok(e instanceof UnavailableError);
      assert.equal(e.exitCode, 5);
      // Refused at 0, 60.05, 120.1, 240.2 s: the fourth wait (240.2 s) would end past 300 s.
      assert.equal(
        e.message,
        "Smartlead kept refusing requests (HTTP 429, rate limit) for 4 min; the next wait " +
          "(4 min) would pass --max-wait 5 min (last: GET /campaigns/1)",
      );
      assert.match(e.hint ?? "", /another job may be using the same API key/);
      return true;
    });
    assert.equal(seen.length, 4);
    // Every later request fails at once instead of waiting out the pause.
    await assert.rejects(c.getCampaign(1), UnavailableError);
    assert.equal(seen.length, 4);
  });
});

Deno.test("Cloudflare: 524 is retried; a 403 that is not JSON is a CDN block, not a bad key", async () => {
  await scripted([
    () => new Response("error code: 524", { status: 524 }),
    json(200, { id: 1 }),
  ], async (url) => {
    const c = new SmartleadClient({ apiKey: KEY, baseUrl: url, ...fast });
    await c.getCampaign(1);
    assert.deepEqual([c.requests, c.retries], [2, 1]);
  });
  for (
    const body of [
      "error code: 1010",
      "<!DOCTYPE html><html><head><title>Access denied | server.smartlead.ai used Cloudflare</title></head></html>",
    ]
  ) {
    await scripted([() => new Response(body, { status: 403 })], async (url) => {
      const c = new SmartleadClient({ apiKey: KEY, baseUrl: url, ...fast });
      await assert.rejects(c.getCampaign(1), (e) => {
        assert.ok(e instanceof AuthError);
        assert.equal(e.exitCode, 3);
        assert.match(e.message, /^Smartlead's CDN \(Cloudflare\) blocked the request \(HTTP 403/);
        assert.match(e.message, new RegExp(`User-Agent: smartlead-sync/${VERSION}$`));
        assert.doesNotMatch(`${e.message} ${e.hint}`, /SMARTLEAD_API_KEY|--api-key/);
        return true;
      });
      assert.equal(c.requests, 1);
    });
  }
  await scripted([json(403, { message: "Access denied" })], async (url) => {
    const c = new SmartleadClient({ apiKey: KEY, baseUrl: url, ...fast });
    await assert.rejects(c.getCampaign(1), (e) => {
      assert.ok(e instanceof AuthError);
      assert.equal(e.message, "Smartlead refused the API key (HTTP 403: Access denied)");
      assert.match(e.hint ?? "", /check SMARTLEAD_API_KEY/);
      return true;
    });
  });
});

Deno.test("a base URL that answers like something else than Smartlead is named as wrong", async () => {
  const cases: Array<[() => Response, string, RegExp]> = [
    [
      () => new Response("Cannot GET /campaigns/7", { status: 404 }),
      "/v1",
      /answered HTTP 404 with "Cannot GET \/campaigns\/7"/,
    ],
    [json(404, { message: "Not found" }), "/api/v1", /answered HTTP 404 with "{\\"message/],
    [
      () => new Response("<html><body>Welcome</body></html>", { status: 200 }),
      "",
      /answered HTTP 200 with "<html><body>Welcome<\/body><\/html>"/,
    ],
  ];
  for (const [answer, suffix, what] of cases) {
    await scripted([answer], async (url) => {
      const base = url.replace(/\/api\/v1$/, suffix);
      const c = new SmartleadClient({ apiKey: KEY, baseUrl: base, ...fast });
      await assert.rejects(c.getCampaign(7), (e) => {
        assert.ok(e instanceof UsageError, String(e));
        assert.equal(e.exitCode, 2);
        assert.ok(e.message.startsWith(`the base URL ${base} looks wrong: GET /campaigns/{id}`));
        assert.match(e.message, what);
        assert.equal(
          e.hint,
          suffix === "/api/v1"
            ? "check --base-url / SMARTLEAD_BASE_URL"
            : "it lacks /api/v1: Smartlead's is https://server.smartlead.ai/api/v1",
        );
        assert.ok(!e.message.includes(KEY));
        return true;
      });
    });
  }
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

Deno.test("the default request timeout outlasts Cloudflare's 100 s", () => {
  assert.equal(DEFAULT_TIMEOUT_MS, 120_000);
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
