/**
 * Client-side request budget: at most `requests` request starts in any window of
 * `windowMs` (a sliding-window log, which is how Smartlead counts "10 requests every 2
 * seconds"). Smartlead's `Retry-After` and `x-ratelimit-*` headers can only tighten it.
 */

/** Parses `--rate` values such as `10/2` (10 requests per 2 seconds) or `60/60`. */
export function parseRate(text: string): { requests: number; windowMs: number } | undefined {
  const m = /^\s*(\d+)\s*\/\s*(\d+(?:\.\d+)?)\s*(s|ms)?\s*$/.exec(text);
  if (!m) return undefined;
  const requests = Number(m[1]);
  const amount = Number(m[2]);
  const windowMs = m[3] === "ms" ? amount : amount * 1000;
  if (!(requests >= 1) || !(windowMs > 0)) return undefined;
  return { requests, windowMs };
}

export type Sleep = (ms: number) => Promise<void>;
const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Why the limiter is holding a request back. */
export type WaitReason = "rate limit" | "retry-after";

export class RateLimiter {
  readonly requests: number;
  readonly windowMs: number;
  /** Safety margin so that the server, which sees arrivals slightly later, agrees. */
  readonly marginMs: number;
  #starts: number[] = [];
  #pausedUntil = 0;
  #queue: Promise<void> = Promise.resolve();
  #now: () => number;
  #sleep: Sleep;
  /** Total time requests spent waiting for a slot. */
  waitedMs = 0;
  onWait: ((ms: number, reason: WaitReason) => void) | undefined;

  constructor(
    opts: { requests: number; windowMs: number; marginMs?: number },
    clock?: { now: () => number; sleep: Sleep },
  ) {
    this.requests = opts.requests;
    this.windowMs = opts.windowMs;
    this.marginMs = opts.marginMs ?? Math.min(50, opts.windowMs / 20);
    this.#now = clock?.now ?? (() => performance.now());
    this.#sleep = clock?.sleep ?? realSleep;
  }

  /** Waits until a request may start, and records its start. Calls are served in order. */
  acquire(): Promise<void> {
    const turn = this.#queue.then(() => this.#take());
    this.#queue = turn.catch(() => {});
    return turn;
  }

  async #take(): Promise<void> {
    while (true) {
      const now = this.#now();
      let wait = 0;
      let reason: WaitReason = "rate limit";
      if (this.#pausedUntil > now) {
        wait = this.#pausedUntil - now;
        reason = "retry-after";
      } else {
        while (this.#starts.length > 0 && this.#starts[0]! + this.windowMs + this.marginMs <= now) {
          this.#starts.shift();
        }
        if (this.#starts.length >= this.requests) {
          wait = this.#starts[0]! + this.windowMs + this.marginMs - now;
        }
      }
      if (wait <= 0) {
        this.#starts.push(now);
        return;
      }
      this.waitedMs += wait;
      this.onWait?.(wait, reason);
      await this.#sleep(wait);
    }
  }

  /** Holds every request until `ms` from now (a 429 with `Retry-After`). */
  pause(ms: number): void {
    this.#pausedUntil = Math.max(this.#pausedUntil, this.#now() + ms);
  }

  /**
   * Applies `x-ratelimit-remaining` / `x-ratelimit-reset` (seconds): when the server says
   * nothing is left although this client's own window is not full, someone else is using
   * the key's budget, and nothing starts before the reset. When the window is full anyway,
   * the client's own (millisecond) timing is the tighter one: the server's reset is rounded
   * up to whole seconds and would waste up to a second per window.
   */
  observe(headers: Headers): void {
    const num = (name: string) => {
      const v = headers.get(name)?.trim();
      return v ? Number(v) : NaN;
    };
    const remaining = num("x-ratelimit-remaining");
    const reset = num("x-ratelimit-reset");
    if (!(remaining === 0 && reset > 0 && reset < 3600)) return;
    const now = this.#now();
    const inWindow = this.#starts.filter((t) => t + this.windowMs + this.marginMs > now).length;
    if (inWindow < this.requests) this.pause(reset * 1000);
  }
}
