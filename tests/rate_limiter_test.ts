import assert from "node:assert/strict";
import {
  parseRate,
  parseRetryAfter,
  RateLimiter,
  resetDelayMs,
  type WaitReason,
} from "../lib/client/rate_limiter.ts";
import { SimServer, simulateJob, VirtualTime } from "./virtual_time.ts";

/** A clock that only moves when the limiter sleeps (or the test says so). */
function fakeClock() {
  const clock = {
    t: 0,
    sleeps: [] as number[],
    now: () => clock.t,
    sleep: (ms: number) => {
      clock.sleeps.push(ms);
      clock.t += ms;
      return Promise.resolve();
    },
  };
  return clock;
}

/** Acquires `n` slots concurrently; returns the clock time at which each started, in order. */
async function starts(limiter: RateLimiter, clock: { now: () => number }, n: number) {
  const out: number[] = [];
  await Promise.all(
    Array.from({ length: n }, () => limiter.acquire().then(() => out.push(clock.now()))),
  );
  return out;
}

Deno.test("RateLimiter", async (t) => {
  await t.step("first N start immediately, then one window apart", async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ requests: 3, windowMs: 1000, marginMs: 0 }, clock);
    assert.deepEqual(await starts(limiter, clock, 7), [0, 0, 0, 1000, 1000, 1000, 2000]);
    assert.equal(limiter.waitedMs, 2000);
    assert.deepEqual(clock.sleeps, [1000, 1000]);
  });

  await t.step("the margin is added to every wait", async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ requests: 2, windowMs: 2000, marginMs: 50 }, clock);
    assert.deepEqual(await starts(limiter, clock, 5), [0, 0, 2050, 2050, 4100]);
  });

  await t.step("default margin: min(50 ms, window / 20)", () => {
    assert.equal(new RateLimiter({ requests: 10, windowMs: 2000 }).marginMs, 50);
    assert.equal(new RateLimiter({ requests: 10, windowMs: 200 }).marginMs, 10);
  });

  await t.step("the window slides: each start frees its slot one window later", async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ requests: 3, windowMs: 1000, marginMs: 0 }, clock);
    const at: number[] = [];
    const go = async () => {
      await limiter.acquire();
      at.push(clock.t);
    };
    await go(); // 0
    clock.t = 400;
    await go(); // 400
    clock.t = 900;
    await go(); // 900
    await go(); // waits for the 0 start to leave: 1000
    await go(); // then for 400: 1400
    clock.t = 3000;
    await go(); // all old: immediate
    assert.deepEqual(at, [0, 400, 900, 1000, 1400, 3000]);
    assert.deepEqual(clock.sleeps, [100, 400]);
  });

  await t.step("pause() holds every request (Retry-After), reported as such", async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ requests: 10, windowMs: 2000, marginMs: 0 }, clock);
    const waits: Array<[number, WaitReason]> = [];
    limiter.onWait = (ms, reason) => waits.push([ms, reason]);
    await limiter.acquire();
    limiter.pause(5000);
    limiter.pause(1000); // a shorter pause never shortens a longer one
    assert.deepEqual(await starts(limiter, clock, 2), [5000, 5000]);
    assert.deepEqual(waits, [[5000, "retry-after"]]);
    assert.equal(limiter.waitedMs, 5000);
  });

  await t.step(
    "headers: fewer remaining than the client's own room holds requests until the reset",
    async () => {
      const clock = fakeClock();
      const limiter = new RateLimiter({ requests: 10, windowMs: 2000, marginMs: 0 }, clock);
      const h = (remaining: string, reset?: string) =>
        new Headers({
          "x-ratelimit-remaining": remaining,
          ...(reset === undefined ? {} : { "x-ratelimit-reset": reset }),
        });
      // Not believed or incomplete: a reset over an hour away, no reset, no headers.
      for (const headers of [h("0", "7200"), h("0"), new Headers({})]) {
        limiter.answered(await limiter.acquire(), headers);
      }
      assert.deepEqual(await starts(limiter, clock, 1), [0]);
      // 3 left while the client's own window had room for 5 more: 3 start, then the reset.
      limiter.answered(await limiter.acquire(), h("3", "9"));
      assert.deepEqual(await starts(limiter, clock, 4), [0, 0, 0, 9000]);
      assert.deepEqual(clock.sleeps, [9000]);
    },
  );

  await t.step(
    "headers: when its own window is full anyway, the client's timing wins",
    async () => {
      const clock = fakeClock();
      const limiter = new RateLimiter({ requests: 2, windowMs: 1000, marginMs: 0 }, clock);
      const [, second] = [await limiter.acquire(), await limiter.acquire()];
      clock.t = 300;
      // The server rounds its reset up to whole seconds; the window really frees at 1000.
      limiter.answered(
        second!,
        new Headers({ "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1" }),
      );
      assert.deepEqual(await starts(limiter, clock, 1), [1000]);
    },
  );

  await t.step(
    "headers: a limit above the burst window is a longer window, always honoured",
    async () => {
      const clock = fakeClock();
      const limiter = new RateLimiter({ requests: 2, windowMs: 1000, marginMs: 0 }, clock);
      const [, second] = [await limiter.acquire(), await limiter.acquire()];
      limiter.answered(
        second!,
        new Headers({
          "x-ratelimit-limit": "60",
          "x-ratelimit-remaining": "0",
          "x-ratelimit-reset": "40",
        }),
      );
      assert.deepEqual(await starts(limiter, clock, 1), [40_000]);
      assert.deepEqual(limiter.budget(), { requests: 60, windowMs: 40_000, source: "headers" });
    },
  );

  await t.step("a 429 without hints pauses one long window; with Retry-After, that", async () => {
    const cases: Array<[Headers | undefined, number, WaitReason]> = [
      [undefined, 60_050, "429, waiting a window"],
      [new Headers({ "retry-after": "7" }), 7000, "retry-after"],
      // "0" would be hammering: never less than the burst window.
      [new Headers({ "retry-after": "0" }), 2000, "retry-after"],
      [new Headers({ "x-ratelimit-reset": "5" }), 5050, "x-ratelimit-reset"],
    ];
    for (const [headers, ms, why] of cases) {
      const clock = fakeClock();
      const limiter = new RateLimiter(
        { requests: 10, windowMs: 2000, longWindowMs: 60_000, marginMs: 50 },
        clock,
      );
      const waits: Array<[number, WaitReason]> = [];
      limiter.onWait = (ms, reason) => waits.push([ms, reason]);
      assert.equal(limiter.refused(await limiter.acquire(), headers), ms);
      assert.deepEqual(await starts(limiter, clock, 1), [ms]);
      assert.deepEqual(waits, [[ms, why]]);
      assert.equal(limiter.refusals, 1);
    }
  });

  await t.step(
    "refused again right after each pause: waits grow x2, x4, x8, jittered",
    async () => {
      const clock = { ...fakeClock(), random: () => 0.5 };
      const limiter = new RateLimiter(
        { requests: 10, windowMs: 2000, longWindowMs: 60_000, marginMs: 50 },
        clock,
      );
      const waits: number[] = [];
      for (let i = 0; i < 6; i++) waits.push(limiter.refused(await limiter.acquire()));
      assert.deepEqual(waits, [60_050, 90_075, 180_150, 360_300, 720_600, 720_600]);
      // An answer ends the spell: the next refusal waits one window again.
      limiter.answered(await limiter.acquire());
      assert.equal(limiter.refused(await limiter.acquire()), 60_050);
    },
  );

  await t.step("after a 429 one request at a time, doubling with each answer", async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(
      { requests: 100, windowMs: 1000, concurrency: 4, marginMs: 0 },
      clock,
    );
    const a = await limiter.acquire();
    assert.equal(limiter.limits.inFlight, 4);
    limiter.refused(a, new Headers({ "retry-after": "1" }));
    assert.equal(limiter.limits.inFlight, 1);
    const b = await limiter.acquire();
    let third = false;
    const c = limiter.acquire().then((slot) => ((third = true), slot));
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(third, false); // held: one in flight already
    limiter.answered(b);
    assert.equal(limiter.limits.inFlight, 2);
    limiter.answered(await c);
    assert.equal(limiter.limits.inFlight, 4);
    limiter.answered(await limiter.acquire());
    assert.equal(limiter.limits.inFlight, 4); // never above --concurrency
  });

  await t.step("a stray 429 early in a run at most halves the burst limit", async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ requests: 10, windowMs: 2000, marginMs: 0 }, clock);
    limiter.answered(await limiter.acquire());
    limiter.refused(await limiter.acquire(), new Headers({ "retry-after": "1" }));
    // One request had been admitted in the window: the budget seen is 1, but 5 is kept.
    assert.deepEqual(limiter.budget(), { requests: 5, windowMs: 2000, source: "learned" });
    assert.equal(limiter.limits.long, Infinity);
  });

  await t.step("abandon() fails every waiting and later request with its error", async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ requests: 1, windowMs: 1000, concurrency: 1 }, clock);
    await limiter.acquire(); // in flight, never answered
    const waiting = limiter.acquire();
    limiter.abandon(new Error("gave up"));
    await assert.rejects(waiting, { message: "gave up" });
    await assert.rejects(limiter.acquire(), { message: "gave up" });
  });

  await t.step("an aborted signal stops the wait", async () => {
    const limiter = new RateLimiter({ requests: 1, windowMs: 60_000 });
    await limiter.acquire();
    const stop = new AbortController();
    const waiting = limiter.acquire(stop.signal);
    stop.abort(new Error("SIGINT"));
    await assert.rejects(waiting, { message: "SIGINT" });
  });

  await t.step("calls are served in order", async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ requests: 1, windowMs: 100, marginMs: 0 }, clock);
    const order: number[] = [];
    await Promise.all([0, 1, 2, 3].map((i) => limiter.acquire().then(() => order.push(i))));
    assert.deepEqual(order, [0, 1, 2, 3]);
    assert.equal(clock.t, 300);
  });
});

Deno.test("parseRate", () => {
  assert.deepEqual(parseRate("10/2"), { requests: 10, windowMs: 2000 });
  assert.deepEqual(parseRate(" 60 / 60 "), { requests: 60, windowMs: 60_000 });
  assert.deepEqual(parseRate("5/500ms"), { requests: 5, windowMs: 500 });
  assert.deepEqual(parseRate("5/1.5s"), { requests: 5, windowMs: 1500 });
  for (const bad of ["0/2", "10/0", "10", "x/2", "-1/2", "10/2m", ""]) {
    assert.equal(parseRate(bad), undefined, bad);
  }
});

Deno.test("parseRetryAfter and resetDelayMs: seconds, dates, epochs, garbage", () => {
  const now = 1_700_000_000_000;
  assert.equal(parseRetryAfter("3", now), 3000);
  assert.equal(parseRetryAfter("100000", now), 600_000); // capped
  assert.equal(parseRetryAfter(new Date(now + 2000).toUTCString(), now), 2000);
  assert.equal(parseRetryAfter("soon", now), undefined);
  assert.equal(resetDelayMs("12", now), 12_000); // a delta in seconds
  assert.equal(resetDelayMs("1.5", now), 1500);
  assert.equal(resetDelayMs(String(now / 1000 + 30), now), 30_000); // epoch seconds
  assert.equal(resetDelayMs(String(now + 4000), now), 4000); // epoch milliseconds
  assert.equal(resetDelayMs(String(now / 1000 - 5), now), 0); // already past
  assert.equal(resetDelayMs("7200", now), undefined); // more than an hour: not believed
  for (const bad of [null, "", "soon", "-3"]) assert.equal(resetDelayMs(bad, now), undefined);
});

/** Runs `jobs` jobs of `requests` each against one simulated key, in virtual time. */
async function simulate(
  rate: ConstructorParameters<typeof SimServer>[0],
  opts: {
    ceiling?: { requests: number; windowMs: number };
    requests: number[];
    concurrency?: number;
    latencyMs?: number;
    longWindowMs?: number;
  },
) {
  const vt = new VirtualTime();
  const server = new SimServer(rate, vt, opts.latencyMs ?? 200);
  const limiters = opts.requests.map(() =>
    new RateLimiter({
      ...(opts.ceiling ?? { requests: 10, windowMs: 2000 }),
      concurrency: opts.concurrency ?? 4,
      ...(opts.longWindowMs ? { longWindowMs: opts.longWindowMs } : {}),
    }, { now: vt.now, sleep: vt.sleep, epoch: vt.epoch, random: vt.random })
  );
  const finished: number[] = [];
  await vt.run(
    Promise.all(
      limiters.map((l, i) =>
        simulateJob(l, server, opts.requests[i]!, opts.concurrency ?? 4).then(() =>
          finished.push(i)
        )
      ),
    ),
  );
  return { vt, server, limiters, finished };
}

const LOCKOUT_60 = {
  requests: 60,
  windowMs: 60_000,
  retryAfter: false,
  reset: "none",
  lockoutMs: 60_000,
} as const;

Deno.test("learning the budget, in virtual time against the sandbox's window", async (t) => {
  await t.step("60 per 60 s, no Retry-After, no headers, lockout: learns 60/60", async () => {
    // The default 10 per 2 s sends 60 in 12 s; the 61st (and the 3 in flight with it) are
    // refused: 60 admitted in the long window while the burst window had less than its
    // usual 10, so the long window is blamed. One probe to 61 after 4 clean windows fails.
    const { server, limiters: [l] } = await simulate(LOCKOUT_60, { requests: [600] });
    assert.equal(server.admitted.length, 600);
    assert.equal(server.refused, 5);
    assert.deepEqual(l!.budget(), { requests: 60, windowMs: 60_000, source: "learned" });
    assert.ok(server.budgetUsed() >= 0.9, `used ${server.budgetUsed()}`);
  });

  await t.step("one request at a time: the first refusal and one failed probe", async () => {
    const { server, limiters: [l] } = await simulate(LOCKOUT_60, {
      requests: [600],
      concurrency: 1,
      latencyMs: 0,
    });
    assert.deepEqual([server.admitted.length, server.refused, l!.refusals], [600, 2, 2]);
    assert.ok(server.budgetUsed() >= 0.9, `used ${server.budgetUsed()}`);
  });

  await t.step("150 per 60 s: learns 150", async () => {
    const { server, limiters: [l] } = await simulate({ ...LOCKOUT_60, requests: 150 }, {
      requests: [1500],
    });
    assert.equal(server.refused, 5);
    assert.deepEqual(l!.budget(), { requests: 150, windowMs: 60_000, source: "learned" });
    assert.ok(server.budgetUsed() >= 0.8, `used ${server.budgetUsed()}`);
  });

  await t.step("10 per 2 s with the default ceiling: no 429 at all", async () => {
    const { server, limiters: [l] } = await simulate({ requests: 10, windowMs: 2000 }, {
      requests: [600],
    });
    assert.equal(server.refused, 0);
    assert.deepEqual(l!.budget(), { requests: 10, windowMs: 2000, source: "headers" });
    assert.ok(server.budgetUsed() >= 0.95, `used ${server.budgetUsed()}`);
  });

  await t.step("10 per 2 s under a ceiling of 20 per 2 s, no hints: learns 10", async () => {
    const { server, limiters: [l] } = await simulate(
      { requests: 10, windowMs: 2000, retryAfter: false, reset: "none" },
      { requests: [600], ceiling: { requests: 20, windowMs: 2000 } },
    );
    assert.equal(server.refused, 4);
    assert.deepEqual(l!.budget(), { requests: 10, windowMs: 2000, source: "learned" });
  });

  await t.step("60 per 60 s with x-ratelimit headers (delta reset): no 429", async () => {
    const { server, limiters: [l] } = await simulate(
      { requests: 60, windowMs: 60_000 },
      { requests: [600] },
    );
    assert.equal(server.refused, 0);
    assert.deepEqual(l!.budget(), { requests: 60, windowMs: 60_000, source: "headers" });
    assert.ok(server.budgetUsed() >= 0.95, `used ${server.budgetUsed()}`);
  });

  await t.step("60 per 60 s with an epoch reset and no Retry-After", async () => {
    const { server, limiters: [l] } = await simulate(
      { requests: 60, windowMs: 60_000, reset: "epoch", retryAfter: false },
      { requests: [600] },
    );
    // The sandbox's window slides: its reset frees one slot, not all; a few refusals teach
    // the rest.
    assert.equal(server.refused, 5);
    assert.equal(l!.budget().source, "headers");
    assert.equal(l!.limits.long, 60);
    assert.ok(server.budgetUsed() >= 0.95, `used ${server.budgetUsed()}`);
  });
});

Deno.test("several jobs on one key", async (t) => {
  await t.step("two jobs on 60 per 60 s with lockouts both finish, sharing 30 + 30", async () => {
    const { server, limiters, finished } = await simulate(LOCKOUT_60, { requests: [300, 300] });
    assert.deepEqual(finished.toSorted(), [0, 1]);
    assert.equal(server.admitted.length, 600);
    assert.equal(server.refused, 10);
    assert.deepEqual(limiters.map((l) => l.budget().requests), [30, 30]);
    assert.ok(server.budgetUsed() >= 0.9, `used ${server.budgetUsed()}`);
  });

  await t.step("two jobs on 10 per 2 s (Retry-After, headers) settle on 5 + 5", async () => {
    const { server, limiters, finished } = await simulate({ requests: 10, windowMs: 2000 }, {
      requests: [300, 300],
    });
    assert.deepEqual(finished.toSorted(), [0, 1]);
    assert.equal(server.refused, 12);
    assert.deepEqual(limiters.map((l) => l.limits.short), [5, 5]);
    assert.ok(server.budgetUsed() >= 0.8, `used ${server.budgetUsed()}`);
  });

  await t.step("a job starting during the other's lockout: no livelock, both finish", async () => {
    // B's first request lands in the lockout A's refusal started, and extends it; A's, after
    // its pause, extends it again... Waits that grow with jitter on repeated refusals break
    // the cycle.
    const vt = new VirtualTime();
    const server = new SimServer(LOCKOUT_60, vt, 200);
    const clock = { now: vt.now, sleep: vt.sleep, epoch: vt.epoch, random: vt.random };
    const [a, b] = [0, 1].map(() =>
      new RateLimiter({ requests: 10, windowMs: 2000, concurrency: 4 }, clock)
    );
    await vt.run(Promise.all([
      simulateJob(a!, server, 300, 4),
      vt.sleep(30_000).then(() => simulateJob(b!, server, 300, 4)),
    ]));
    assert.equal(server.admitted.length, 600);
    assert.deepEqual([server.refused, a!.refusals, b!.refusals], [14, 7, 7]);
  });

  await t.step("a job left alone grows back into the whole budget", async () => {
    // The two share 30 + 30 until B ends; A's next probe (8 clean windows later, its
    // previous one having failed) holds, and it then grows in doubling steps back to 60.
    const { server, limiters: [a, b] } = await simulate(LOCKOUT_60, { requests: [1500, 150] });
    assert.equal(b!.budget().requests, 30);
    assert.deepEqual(a!.budget(), { requests: 60, windowMs: 60_000, source: "learned" });
    assert.deepEqual([server.refused, a!.refusals, b!.refusals], [12, 8, 4]);
  });
});
