/**
 * The Smartlead client against a scripted HTTP server on port 0: auth and not-found
 * readings, retries, Retry-After, redaction, User-Agent.
 */
import assert from "node:assert/strict";
import {
  DEFAULT_TIMEOUT_MS,
  parseRetryAfter,
  SmartleadClient,
  SmartleadRequestError,
} from "../lib/client/smartlead.ts";
import {
  AuthError,
  CampaignNotFoundError,
  InterruptedError,
  UnavailableError,
  UsageError,
} from "../lib/errors.ts";
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
      assert.equal(r.counters.new_counter, 7); // unknown counters are kept
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

Deno.test("bodies are redacted before they are shortened: no prefix of the key is printed", async () => {
  // The key straddles the 500th character of the debug line's body and the 200th of the
  // "not understood" message: cutting first would print its first characters. (A 2xx to
  // add-leads is applied whatever its body, so the roster's answer is the one not understood.)
  const straddle = (at: number) => "x".repeat(at - 6) + KEY + "y".repeat(600);
  await scripted([() => new Response(straddle(500), { status: 200 })], async (url) => {
    const lines: string[] = [];
    const c = new SmartleadClient({
      apiKey: KEY,
      baseUrl: url,
      ...fast,
      debug: (l) => lines.push(l),
    });
    await assert.rejects(c.roster(1).next(), (e) => {
      assert.ok(e instanceof UnavailableError);
      assert.ok(!e.message.includes(KEY.slice(0, 6)), e.message);
      return true;
    });
    assert.equal(lines.length, 2);
    assert.ok(!lines[1]!.includes(KEY.slice(0, 6)), lines[1]!);
    assert.ok(lines[1]!.includes("***"));
  });
  await scripted([() => new Response(straddle(200), { status: 200 })], async (url) => {
    const c = new SmartleadClient({ apiKey: KEY, baseUrl: url, ...fast });
    await assert.rejects(c.roster(1).next(), (e) => {
      assert.ok(e instanceof UnavailableError);
      assert.ok(!e.message.includes(KEY.slice(0, 6)), e.message);
      assert.match(
        e.message,
        /^Smartlead's answer to campaign leads was not understood: x+\*\*\*y+…$/,
      );
      return true;
    });
  });
});

Deno.test("server messages and debug bodies reach the terminal with control and bidi characters escaped", async () => {
  const hostile = "\x1b]0;pwned\x07\x1b[2J\u202eevil\x9b31m\nforged line";
  await scripted([json(400, { message: hostile })], async (url) => {
    const lines: string[] = [];
    const c = new SmartleadClient({
      apiKey: KEY,
      baseUrl: url,
      ...fast,
      debug: (l) => lines.push(l),
    });
    await assert.rejects(c.addLeads(1, [{ email: "a@x.com" }], {}), (e) => {
      assert.ok(e instanceof SmartleadRequestError);
      assert.equal(
        e.message,
        "Smartlead answered HTTP 400 to POST /campaigns/1/leads: " +
          "\\u001b]0;pwned\\u0007\\u001b[2J\\u202eevil\\u009b31m\\u000aforged line",
      );
      return true;
    });
    assert.ok(
      lines[1]!.endsWith(
        String.raw`{"message":"\u001b]0;pwned\u0007\u001b[2J\u202eevil\u009b31m\nforged line"}`,
      ),
      lines[1]!,
    );
    // deno-lint-ignore no-control-regex
    assert.doesNotMatch(lines.join(""), /[\x1b\x07\x9b\u202e\n]/);
  });
});

Deno.test("a stop signal ends a Retry-After wait and a backoff at once with InterruptedError", async (t) => {
  await t.step("Retry-After: 600", async () => {
    await scripted([json(429, {}, { "retry-after": "600" })], async (url, seen) => {
      const stop = new AbortController();
      const c = new SmartleadClient({ apiKey: KEY, baseUrl: url, ...fast, signal: stop.signal });
      const waited = new Promise<void>((resolve) => {
        c.limiter.onWait = (ms, reason) => {
          assert.deepEqual([ms > 590_000, reason], [true, "retry-after"]);
          resolve();
        };
      });
      const call = c.getCampaign(1);
      await waited;
      stop.abort("SIGTERM");
      await assert.rejects(call, (e) => e instanceof InterruptedError && e.exitCode === 143);
      assert.equal(seen.length, 1);
    });
  });
  await t.step("backoff after a 503", async () => {
    await scripted([json(503, {})], async (url, seen) => {
      const stop = new AbortController();
      let slept = 0;
      const c = new SmartleadClient({
        apiKey: KEY,
        baseUrl: url,
        maxAttempts: 3,
        signal: stop.signal,
        // A sleep that never ends by itself: only the signal can end it.
        sleep: () => {
          slept++;
          stop.abort("SIGINT");
          return new Promise<void>(() => {});
        },
      });
      await assert.rejects(
        c.getCampaign(1),
        (e) => e instanceof InterruptedError && e.exitCode === 130,
      );
      assert.deepEqual([seen.length, slept], [1, 1]);
    });
  });
  await t.step("a wait asked after the stop ends at once, without a request", async () => {
    await scripted([json(200, { id: 1 })], async (url, seen) => {
      const stop = new AbortController();
      const c = new SmartleadClient({
        apiKey: KEY,
        baseUrl: url,
        rate: { requests: 1, windowMs: 600_000 },
        signal: stop.signal,
      });
      await c.getCampaign(1);
      stop.abort("SIGINT");
      await assert.rejects(c.getCampaign(1), (e) => e instanceof InterruptedError);
      assert.equal(seen.length, 1);
    });
  });
});

Deno.test("an answer over the size cap is cancelled, not buffered, and not retried", async () => {
  let cancelled = false;
  const endless = () =>
    new Response(
      new ReadableStream<Uint8Array>({
        pull(ctl) {
          ctl.enqueue(new Uint8Array(16 * 1024));
        },
        cancel() {
          cancelled = true;
        },
      }),
      { status: 200 },
    );
  await scripted([endless], async (url, seen) => {
    const c = new SmartleadClient({ apiKey: KEY, baseUrl: url, ...fast, maxBodyBytes: 64 * 1024 });
    await assert.rejects(c.getCampaign(1), (e) => {
      assert.ok(e instanceof UnavailableError);
      assert.match(
        e.message,
        /^the answer from 127\.0\.0\.1:\d+ to GET \/campaigns\/1 is larger than 0 MB: stopped reading it$/,
      );
      return true;
    });
    assert.equal(seen.length, 1);
  });
  assert.ok(cancelled); // the client stopped reading and went away
  // A declared length over the cap is refused before reading.
  await scripted([() => new Response("x".repeat(2000), { status: 200 })], async (url) => {
    const c = new SmartleadClient({ apiKey: KEY, baseUrl: url, ...fast, maxBodyBytes: 1000 });
    await assert.rejects(c.getCampaign(1), (e) => e instanceof UnavailableError);
  });
});
