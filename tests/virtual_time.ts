/**
 * Virtual time for rate-limit tests: a clock that jumps from one timer to the next once
 * every task is blocked, so hours of refusals and waits run in milliseconds with exact,
 * repeatable timings. `simulateJob` drives a `RateLimiter` against the sandbox's own
 * sliding window (`RateWindow`) the way `SmartleadClient` does.
 */
import type { RateLimiter } from "../lib/client/rate_limiter.ts";
import { type RateConfig, rateHeaders, RateWindow } from "../lib/sandbox/faults.ts";

/** One turn of the event loop, without setTimeout's 4 ms clamp. */
function macrotask(): Promise<void> {
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(null);
    port2.close();
  });
}

interface Timer {
  at: number;
  seq: number;
  resolve: () => void;
}

export class VirtualTime {
  t = 0;
  #timers: Timer[] = [];
  #seq = 0;
  /** Epoch of t = 0, for epoch-style resets. */
  readonly epochBase = 1_700_000_000_000;

  #seed = 42;

  now = (): number => this.t;
  /** A seeded generator (mulberry32): the same jitter on every run. */
  random = (): number => {
    let x = (this.#seed = (this.#seed + 0x6d2b79f5) | 0);
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  epoch = (): number => this.epochBase + this.t;
  sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      this.#timers.push({ at: this.t + Math.max(0, ms), seq: this.#seq++, resolve });
    });

  /** Runs until `work` settles, advancing time to the next timer whenever all are blocked. */
  async run<T>(work: Promise<T>): Promise<T> {
    let settled = false;
    work.then(() => (settled = true), () => (settled = true));
    while (true) {
      // A macrotask turn: every promise chain that can move without time has moved.
      await macrotask();
      if (settled) return await work;
      this.#timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.#timers.shift();
      if (!next) throw new Error("virtual time: every task is blocked and no timer is set");
      this.t = Math.max(this.t, next.at);
      next.resolve();
    }
  }
}

/** A simulated Smartlead: the sandbox's window, answered after `latencyMs`. */
export class SimServer {
  readonly window: RateWindow;
  /** Admitted request times, and refusals. */
  admitted: number[] = [];
  refused = 0;

  constructor(readonly rate: RateConfig, readonly vt: VirtualTime, readonly latencyMs = 0) {
    this.window = new RateWindow(rate);
  }

  /** The verdict at arrival (now) and the headers it is answered with. */
  arrive(): { ok: boolean; headers: Headers } {
    const v = this.window.admit(this.vt.t)!;
    if (v.allowed) this.admitted.push(this.vt.t);
    else this.refused++;
    return { ok: v.allowed, headers: new Headers(rateHeaders(v, this.rate, this.vt.epoch())) };
  }

  /**
   * Fraction of the budget used between the first and the last admitted request: the time
   * a sliding window of `requests` per `windowMs` needs at best for that many requests
   * (request k starts at floor((k - 1) / requests) windows), over the time it took.
   */
  budgetUsed(): number {
    const n = this.admitted.length;
    const span = this.admitted[n - 1]! - this.admitted[0]!;
    const ideal = Math.floor((n - 1) / this.rate.requests) * this.rate.windowMs;
    return span === 0 ? 1 : ideal / span;
  }
}

/**
 * One job: `requests` requests through `limiter`, `concurrency` at a time, against `server`,
 * retrying 429s as the client does (the server's Retry-After or reset, else a window).
 */
export async function simulateJob(
  limiter: RateLimiter,
  server: SimServer,
  requests: number,
  concurrency: number,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < requests) {
      next++;
      while (true) {
        const slot = await limiter.acquire();
        const { ok, headers } = server.arrive();
        await server.vt.sleep(server.latencyMs);
        if (ok) {
          limiter.answered(slot, headers);
          break;
        }
        limiter.refused(slot, headers);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
