/**
 * Client-side request budget that learns the one Smartlead really enforces.
 *
 * Smartlead's budget is per key (maybe per account), plan-dependent and disputed (10 per 2 s,
 * 60 per 60 s, 150–200 per minute have all been reported). So the limiter starts from a
 * ceiling (`--rate`, default 10 per 2 s, never exceeded) and learns from what the server does:
 *
 * - Two sliding windows of request starts: the ceiling's own (the burst) and a long one
 *   (default 60 s, the period Smartlead counts over). The long one has no limit until a
 *   refusal teaches one.
 * - A 429 means the server's count is full. The limiter counts the requests it had admitted
 *   in each window before the refused one and tightens the window the evidence points at
 *   (see `#learn`). The pause after a 429 is the server's `Retry-After`, else its
 *   `x-ratelimit-reset`, else a whole long window; during it nothing starts, and afterwards
 *   one request goes alone (concurrency 1, doubling with each answer). Refused again right
 *   after a pause, the waits grow (x2, x4, up to x8) with jitter: a lockout that every
 *   refusal extends is otherwise kept alive forever by two jobs taking turns.
 * - After a few windows used to the full without a refusal, a learnt limit is probed one
 *   request higher; a probe that fails makes the next one wait twice as long, one that holds
 *   makes the next step bigger. Several jobs sharing a key thus settle on shares that add up
 *   to the budget, and one that is left alone grows back into the whole of it.
 * - `x-ratelimit-remaining` / `-reset` (reset as a delta or an epoch) cap the requests started
 *   before the reset when the server knows of less room than this client's own windows.
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

import { type Clock, parseRetryAfter, realSleep, resetDelayMs, type Sleep } from "./timing.ts";

export { type Clock, parseRetryAfter, realSleep, resetDelayMs, type Sleep } from "./timing.ts";

/** Why the limiter is holding a request back (shown on the progress line). */
export type WaitReason =
  | "rate limit"
  | "retry-after"
  | "429, waiting a window"
  | "x-ratelimit-reset";

/** The budget a run converged to, for the summary. */
export interface Budget {
  requests: number;
  windowMs: number;
  /** "ceiling": nothing learnt; "learned": from 429s; "headers": from `x-ratelimit-*`. */
  source: "ceiling" | "learned" | "headers";
}

/** One sliding window: at most `n` admitted starts in any `ms`. */
interface Window {
  readonly ms: number;
  n: number;
  /** Upper bound for probing (the ceiling for the burst window; none for the long one). */
  readonly max: number;
  /** The count a refusal last taught, if any. */
  known: number | undefined;
  /** When a probe raised `n` above `known`; undefined when not probing. */
  probeAt: number | undefined;
  /** Full windows without a refusal since the last change of `n`. */
  streak: number;
  /** When the last full window was counted into `streak`. */
  lastFull: number;
  /** Full windows needed before the next probe. */
  probeEvery: number;
  /** How much a probe adds. */
  step: number;
}

/** A started request; hand it back through `answered`, `refused` or `failed`. */
export interface Slot {
  readonly startedAt: number;
}

interface Start extends Slot {
  refused: boolean;
  /** How many refusals had been received when it started. */
  generation: number;
}

export interface LimiterOptions {
  /** The ceiling (`--rate`): never more than `requests` starts in any `windowMs`. */
  requests: number;
  windowMs: number;
  /** The long window a learnt budget is counted over; default 60 s. */
  longWindowMs?: number;
  /** Most requests in flight (`--concurrency`); default unlimited. */
  concurrency?: number;
  /** Safety margin so that the server, which sees arrivals slightly later, agrees. */
  marginMs?: number;
  /** Full clean windows before the first probe above a learnt limit; default 4. */
  probeAfterWindows?: number;
}

export class RateLimiter {
  readonly requests: number;
  readonly windowMs: number;
  readonly longWindowMs: number;
  readonly marginMs: number;
  #short: Window;
  /** Absent when the ceiling's window is already as long. */
  #long: Window | undefined;
  #starts: Start[] = [];
  #pausedUntil = 0;
  #pauseReason: WaitReason = "retry-after";
  /** Starts left before `until`, from `x-ratelimit-remaining`. */
  #allowance: { left: number; until: number } | undefined;
  #server: { limit: number; windowMs: number } | undefined;
  #inFlight = 0;
  #maxInFlight: number;
  readonly #concurrency: number;
  #freed: Array<() => void> = [];
  #lastRefusal = Number.NEGATIVE_INFINITY;
  /** The pause the last refusal cost: probes are spaced by it as well as by the window. */
  #lastPauseMs = 0;
  readonly #probeAfter: number;
  /** Aborted by `abandon`: cuts every wait short. */
  #stop = new AbortController();
  #refusedSince: number | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #now: () => number;
  #epoch: () => number;
  #sleep: Sleep;
  #random: () => number;
  /** Refusals in a row (one per burst) without an answer in between. */
  #spell = 0;
  /** Total time requests spent waiting for a slot or a pause. */
  waitedMs = 0;
  /** 429 answers received. */
  refusals = 0;
  onWait: ((ms: number, reason: WaitReason) => void) | undefined;

  constructor(opts: LimiterOptions, clock?: Clock) {
    this.requests = opts.requests;
    this.windowMs = opts.windowMs;
    this.longWindowMs = opts.longWindowMs ?? 60_000;
    this.marginMs = opts.marginMs ?? Math.min(50, opts.windowMs / 20);
    const probeEvery = opts.probeAfterWindows ?? 4;
    this.#probeAfter = probeEvery;
    const win = (ms: number, n: number, max: number): Window => ({
      ms,
      n,
      max,
      known: undefined,
      probeAt: undefined,
      streak: 0,
      lastFull: Number.NEGATIVE_INFINITY,
      probeEvery,
      step: 1,
    });
    this.#short = win(opts.windowMs, opts.requests, opts.requests);
    this.#long = this.longWindowMs > opts.windowMs
      ? win(this.longWindowMs, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY)
      : undefined;
    this.#concurrency = opts.concurrency ?? Number.POSITIVE_INFINITY;
    this.#maxInFlight = this.#concurrency;
    this.#now = clock?.now ?? (() => performance.now());
    this.#epoch = clock?.epoch ?? (() => Date.now());
    this.#sleep = clock?.sleep ?? realSleep;
    this.#random = clock?.random ?? Math.random;
  }

  /** The current limits: the burst window's and the long window's (Infinity: not learnt). */
  get limits(): { short: number; long: number; inFlight: number } {
    return { short: this.#short.n, long: this.#long?.n ?? Infinity, inFlight: this.#maxInFlight };
  }

  /** How long a 429 without `Retry-After` or a reset waits: one long window. */
  get refusalWaitMs(): number {
    return Math.max(this.longWindowMs, this.windowMs) + this.marginMs;
  }

  /** When the key started being refused without an answer in between; undefined if not. */
  get refusedSince(): number | undefined {
    return this.#refusedSince;
  }

  /** The budget the run converged to: the binding window, or what the headers said. */
  budget(): Budget {
    if (this.#server) {
      return { requests: this.#server.limit, windowMs: this.#server.windowMs, source: "headers" };
    }
    // A probe not yet proven does not count.
    const level = (w: Window) => (w.probeAt === undefined ? w.n : w.known!);
    const s = level(this.#short);
    const l = this.#long ? level(this.#long) : Infinity;
    const learned = this.#short.known !== undefined || this.#long?.known !== undefined;
    const source = learned ? "learned" : "ceiling";
    if (Number.isFinite(l) && l / this.longWindowMs < s / this.windowMs) {
      return { requests: l, windowMs: this.longWindowMs, source };
    }
    return { requests: s, windowMs: this.windowMs, source };
  }

  /** Waits until a request may start and records its start. Calls are served in order. */
  acquire(signal?: AbortSignal): Promise<Slot> {
    const turn = this.#queue.then(() => this.#take(signal));
    this.#queue = turn.catch(() => {});
    return turn;
  }

  async #take(caller: AbortSignal | undefined): Promise<Slot> {
    const signal = caller ? AbortSignal.any([caller, this.#stop.signal]) : this.#stop.signal;
    while (true) {
      signal.throwIfAborted();
      const now = this.#now();
      let wait = 0;
      let reason: WaitReason = "rate limit";
      const allowance = this.#allowance;
      if (allowance && allowance.until <= now) this.#allowance = undefined;
      if (this.#pausedUntil > now) {
        wait = this.#pausedUntil - now;
        reason = this.#pauseReason;
      } else if (this.#allowance && this.#allowance.left <= 0) {
        wait = this.#allowance.until - now;
        reason = "x-ratelimit-reset";
      } else {
        this.#prune(now);
        for (const w of this.#windows()) wait = Math.max(wait, this.#freeAt(w, now) - now);
      }
      if (wait > 0) {
        this.waitedMs += wait;
        this.onWait?.(wait, reason);
        await this.#sleep(wait, signal);
        continue;
      }
      if (this.#inFlight >= this.#maxInFlight) {
        await this.#slotFreed(signal);
        continue;
      }
      const start: Start = { startedAt: now, refused: false, generation: this.refusals };
      this.#starts.push(start);
      this.#inFlight++;
      if (this.#allowance) this.#allowance.left--;
      for (const w of this.#windows()) this.#noteFull(w, now);
      return start;
    }
  }

  /** An answer other than 429 (2xx, 4xx, 5xx): applies its `x-ratelimit-*` headers. */
  answered(slot: Slot, headers?: Headers): void {
    this.#end();
    this.#refusedSince = undefined;
    this.#spell = 0;
    this.#maxInFlight = Math.min(this.#concurrency, this.#maxInFlight * 2);
    if (headers) this.#observe(slot, headers);
  }

  /** No answer (network error, timeout): the server may have counted it. */
  failed(_slot: Slot): void {
    this.#end();
  }

  /**
   * A 429: learns from it, pauses every request (for the answer's `Retry-After`, else its
   * `x-ratelimit-reset`, else one long window; never less than the burst window, so that a
   * server saying "0" is not hammered; longer and jittered when refused again right after a
   * pause) and lets one request at a time through afterwards. Returns the pause.
   */
  refused(slot: Slot, headers?: Headers): number {
    const retryAfter = parseRetryAfter(headers?.get("retry-after") ?? null, this.#epoch());
    const reset = retryAfter === undefined
      ? resetDelayMs(headers?.get("x-ratelimit-reset") ?? null, this.#epoch())
      : undefined;
    const hint = retryAfter ?? (reset ? reset + this.marginMs : undefined);
    const reason = retryAfter !== undefined ? "retry-after" : "x-ratelimit-reset";
    return this.#refused(
      slot,
      hint === undefined ? undefined : Math.max(this.windowMs, hint),
      reason,
    );
  }

  #refused(slot: Slot, waitMs: number | undefined, reason: WaitReason): number {
    this.#end();
    const start = slot as Start;
    const now = this.#now();
    start.refused = true;
    this.#refusedSince ??= now;
    // Requests sent before an earlier refusal arrived belong to the same burst: only the
    // first refusal of a burst teaches anything.
    const fresh = start.generation === this.refusals;
    if (fresh) {
      this.#learn(start, waitMs);
      this.#spell++;
    }
    this.refusals++;
    this.#lastRefusal = now;
    this.#maxInFlight = 1;
    // Refused again right after a pause: the key is locked, perhaps kept locked by another
    // job poking it. Waits grow (x2, x4, up to x8) with jitter, so that jobs drift apart.
    const base = waitMs ?? this.refusalWaitMs;
    const wait = fresh && this.#spell > 1
      ? Math.round(base * Math.min(8, 2 ** (this.#spell - 2)) * (1 + this.#random()))
      : base;
    this.#lastPauseMs = wait;
    this.pause(wait, waitMs === undefined ? "429, waiting a window" : reason);
    return wait;
  }

  /** Gives up: every request waiting, and every later one, fails with `error`. */
  abandon(error: Error): void {
    this.#stop.abort(error);
  }

  /** Holds every request until `ms` from now. */
  pause(ms: number, reason: WaitReason = "retry-after"): void {
    const until = this.#now() + ms;
    if (until > this.#pausedUntil) {
      this.#pausedUntil = until;
      this.#pauseReason = reason;
    }
  }

  /** Resolves when a request in flight ends (or the signal aborts: the loop then throws). */
  #slotFreed(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        signal.removeEventListener("abort", done);
        resolve();
      };
      this.#freed.push(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  #end(): void {
    this.#inFlight = Math.max(0, this.#inFlight - 1);
    for (const wake of this.#freed.splice(0)) wake();
  }

  *#windows(): Generator<Window> {
    yield this.#short;
    if (this.#long) yield this.#long;
  }

  #prune(now: number): void {
    const keep = Math.max(this.#short.ms, this.#long?.ms ?? 0) + this.marginMs;
    while (this.#starts.length > 0 && this.#starts[0]!.startedAt + keep <= now) {
      this.#starts.shift();
    }
  }

  /** Admitted start times in the window ending now (the margin added to its length). */
  #admitted(w: Window, now: number): number[] {
    const from = now - w.ms - this.marginMs;
    return this.#starts.filter((s) => !s.refused && s.startedAt > from).map((s) => s.startedAt);
  }

  /** Admitted start times that preceded `start` (in the order started) within `ms` of it. */
  #before(start: Start, ms: number): number[] {
    const i = this.#starts.indexOf(start);
    const upTo = i < 0 ? this.#starts.length : i;
    const from = start.startedAt - ms;
    return this.#starts.slice(0, upTo).filter((s) => !s.refused && s.startedAt > from)
      .map((s) => s.startedAt);
  }

  /** When the window has room for one more start. */
  #freeAt(w: Window, now: number): number {
    const inWindow = this.#admitted(w, now);
    if (inWindow.length < w.n) return now;
    // The (count - n + 1)-th oldest start has to leave the window.
    return inWindow[inWindow.length - w.n]! + w.ms + this.marginMs;
  }

  /**
   * A start that fills a window counts one clean full window (at most one per window length,
   * none within a window of a refusal). Enough of them in a row probe one step higher; a
   * window filled at the raised level a whole window after the raise proves it.
   */
  #noteFull(w: Window, now: number): void {
    if (!Number.isFinite(w.n) || w.known === undefined) return;
    if (this.#admitted(w, now).length < w.n) return;
    // A failed probe costs a pause: probes are spaced by that as well as by the window.
    const unit = Math.max(w.ms, this.#lastPauseMs);
    if (now - w.lastFull < unit || now - this.#lastRefusal < unit) return;
    w.lastFull = now;
    w.streak++;
    if (w.probeAt !== undefined && now - w.probeAt >= unit) {
      // The budget grew (another job finished?): probe again at once, in growing steps.
      w.known = w.n;
      w.probeAt = undefined;
      w.probeEvery = 1;
      // The long window doubles at most; the burst window, whose refusals come back
      // sooner, grows by a quarter at most.
      w.step = Math.min(w.step * 2, w === this.#short ? Math.ceil(w.n / 4) : w.n);
    }
    if (w.probeAt === undefined && w.streak >= w.probeEvery && w.n < w.max) {
      w.n = Math.min(w.max, w.n + w.step);
      w.streak = 0;
      w.probeAt = now;
    }
  }

  /**
   * Which window was full? Counts the admitted starts before the refused one in each window:
   * - a window probing above its known level: the probe failed;
   * - a server-given wait (`Retry-After`, reset) of a second or so blames the burst window,
   *   a longer one the long window;
   * - the refused request took the burst window's last slot, or the burst window has not
   *   held more than that lately: the burst limit is that count;
   * - otherwise this client has had fuller burst windows accepted, so the burst window was
   *   not the cause: the long window's count is the budget;
   * - nothing admitted in either window (a lockout, or another job used everything): no
   *   lesson, only the pause.
   * A probe that the refusal does not blame goes back to its known level all the same.
   */
  #learn(refused: Start, waitMs: number | undefined): void {
    const s = this.#short;
    const cs = this.#before(refused, s.ms).length;
    const l = this.#long;
    const cl = l ? this.#before(refused, l.ms).length : 0;
    let blamed: Window | undefined;
    // Retry-After and resets come in whole seconds: up to a second is the burst window's.
    const burstWait = Math.max(s.ms, 1000) + this.marginMs;
    if (l && l.probeAt !== undefined && cl > 0) blamed = l;
    else if (s.probeAt !== undefined && cs > 0) blamed = s;
    else if (l && waitMs !== undefined) blamed = waitMs <= burstWait ? s : l;
    else if (cs > 0 && (!l || cs >= this.#busiestBurst(refused))) blamed = s;
    else if (l && cl > 0) blamed = l;
    if (blamed && (blamed === s ? cs : cl) === 0) blamed = undefined;
    if (blamed) this.#tighten(blamed, blamed === s ? cs : cl);
    for (const w of this.#windows()) {
      if (w.probeAt !== undefined) {
        w.n = w.known!;
        w.probeAt = undefined;
      }
      w.streak = 0;
    }
  }

  /** The most admitted starts any burst window held, over the long window before `refused`. */
  #busiestBurst(refused: Start): number {
    const at = this.#before(refused, this.longWindowMs);
    let best = 0;
    for (let i = 0, j = 0; j < at.length; j++) {
      while (at[i]! <= at[j]! - this.#short.ms) i++;
      best = Math.max(best, j - i + 1);
    }
    return best;
  }

  #tighten(w: Window, count: number): void {
    // A refusal at or above the last known level: that level is the budget, probe later.
    if (w.known !== undefined && count >= w.known) {
      w.probeEvery = Math.min(16, Math.max(this.#probeAfter, w.probeEvery * 2));
    }
    // At most halved per refusal: one stray 429 early in a run, when this client has sent
    // only a few requests, must not teach a budget of one or two.
    const floor = Number.isFinite(w.n) ? Math.floor(w.n / 2) : 0;
    w.n = Math.max(1, Math.min(w.n, Math.max(count, floor)));
    w.known = w.n;
    w.probeAt = undefined;
    w.step = 1;
  }

  /**
   * `x-ratelimit-limit / -remaining / -reset`: the server's own count. When it knows of less
   * room than this client's burst window has (another job on the key, or a longer window),
   * at most that many more requests start before the reset. When it agrees, the client's
   * own millisecond timing wins: the server rounds its reset up to whole seconds and would
   * waste up to a second per window.
   */
  #observe(slot: Slot, headers: Headers): void {
    const num = (name: string) => {
      const v = headers.get(name)?.trim();
      return v ? Number(v) : NaN;
    };
    const limit = num("x-ratelimit-limit");
    const remaining = num("x-ratelimit-remaining");
    const reset = resetDelayMs(headers.get("x-ratelimit-reset"), this.#epoch());
    if (limit > 0 && reset !== undefined) {
      const windowMs = Math.max(this.#server?.windowMs ?? 0, Math.ceil(reset / 1000) * 1000);
      this.#server = { limit, windowMs: Math.max(windowMs, 1000) };
    }
    if (!(remaining >= 0) || reset === undefined || reset === 0) return;
    const now = this.#now();
    // Compared when the request started: the room this client's burst window had left then.
    const start = slot as Start;
    const ownRoom = this.#short.n - 1 - this.#before(start, this.windowMs + this.marginMs).length;
    // A limit above this client's burst is another, longer window: always honoured.
    if (!(limit > this.#short.n) && remaining >= ownRoom) {
      this.#allowance = undefined;
      return;
    }
    // This client's requests started since also used the server's count.
    const i = this.#starts.indexOf(start);
    const since = i < 0 ? this.#starts.length : this.#starts.length - i - 1;
    this.#allowance = { left: remaining - since, until: now + reset };
  }
}
