import assert from "node:assert/strict";
import { parseRate, RateLimiter, type WaitReason } from "../lib/client/rate_limiter.ts";

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

  await t.step("observe(): remaining 0 pauses until the reset", async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ requests: 10, windowMs: 2000, marginMs: 0 }, clock);
    limiter.observe(new Headers({ "x-ratelimit-remaining": "3", "x-ratelimit-reset": "9" }));
    limiter.observe(new Headers({ "x-ratelimit-remaining": "0", "x-ratelimit-reset": "7200" }));
    limiter.observe(new Headers({ "x-ratelimit-remaining": "0" }));
    limiter.observe(new Headers({}));
    assert.deepEqual(await starts(limiter, clock, 1), [0]);
    limiter.observe(new Headers({ "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1.5" }));
    assert.deepEqual(await starts(limiter, clock, 1), [1500]);
  });

  await t.step("observe(): when its own window is full, the client's timing wins", async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ requests: 2, windowMs: 1000, marginMs: 0 }, clock);
    assert.deepEqual(await starts(limiter, clock, 2), [0, 0]);
    clock.t = 300;
    // The server rounds its reset up to whole seconds; the window really frees at 1000.
    limiter.observe(new Headers({ "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1" }));
    assert.deepEqual(await starts(limiter, clock, 1), [1000]);
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
