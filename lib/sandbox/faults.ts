/** Fault injection rules and the sliding-window rate limiter of the sandbox. */

export type Fault =
  /** Respond with `status`; "after" applies the write first, then answers with the error. */
  | { kind: "status"; status: number; when: "before" | "after"; body?: string }
  /** Close the connection without an answer; "after" applies the write first. */
  | { kind: "drop"; when: "before" | "after" }
  /** Answer normally, but only after `ms`. */
  | { kind: "delay"; ms: number }
  /** Answer 429 with `Retry-After: retryAfter` (header omitted when undefined). */
  | { kind: "rate_limit"; retryAfter?: number }
  /**
   * Answer `status` (301/302/307/308) with `Location: to` + the request's path and query (the
   * key included, as a misconfigured proxy would), without applying the write.
   */
  | { kind: "redirect"; status: number; to: string }
  /** Answer 200 with a body that never ends, without applying the write. */
  | { kind: "endless_body" };

export interface FaultRule {
  method?: string;
  /** Substring of, or RegExp source matched against, the request pathname. */
  pathPattern?: string;
  /** How many matching requests it applies to before it is used up. */
  times: number;
  /** Let this many matching requests pass first. */
  skip?: number;
  fault: Fault;
}

/** Check a FaultRule that arrived as JSON; returns an error message or the rule. */
export function parseFaultRule(value: unknown): FaultRule | string {
  if (typeof value !== "object" || value === null) return "fault rule must be an object";
  const rule = value as Partial<FaultRule>;
  if (typeof rule.times !== "number" || rule.times < 0) return "times must be a number >= 0";
  if (rule.skip !== undefined && typeof rule.skip !== "number") return "skip must be a number";
  if (rule.method !== undefined && typeof rule.method !== "string") {
    return "method must be a string";
  }
  if (rule.pathPattern !== undefined && typeof rule.pathPattern !== "string") {
    return "pathPattern must be a string";
  }
  const fault = rule.fault as Partial<Fault> | undefined;
  switch (fault?.kind) {
    case "status":
      if (typeof fault.status !== "number") return "fault.status must be a number";
      if (fault.when !== "before" && fault.when !== "after") return "fault.when: before|after";
      break;
    case "drop":
      if (fault.when !== "before" && fault.when !== "after") return "fault.when: before|after";
      break;
    case "delay":
      if (typeof fault.ms !== "number") return "fault.ms must be a number";
      break;
    case "rate_limit":
    case "endless_body":
      break;
    case "redirect":
      if (typeof fault.status !== "number") return "fault.status must be a number";
      if (typeof fault.to !== "string") return "fault.to must be a URL";
      break;
    default:
      return "fault.kind must be status, drop, delay, rate_limit, redirect or endless_body";
  }
  return rule as FaultRule;
}

interface LiveRule {
  rule: FaultRule;
  regexp: RegExp | null;
  skipped: number;
  used: number;
}

/** Ordered fault rules; the first matching unexhausted rule applies to a request. */
export class FaultBook {
  #rules: LiveRule[] = [];

  add(rule: FaultRule): void {
    let regexp: RegExp | null = null;
    if (rule.pathPattern !== undefined) {
      try {
        regexp = new RegExp(rule.pathPattern);
      } catch {
        regexp = null; // not a valid RegExp: substring match only
      }
    }
    this.#rules.push({ rule, regexp, skipped: 0, used: 0 });
  }

  /** Rules not yet used up. */
  get pending(): number {
    return this.#rules.filter((r) => r.used < r.rule.times).length;
  }

  /** Consume and return the fault for this request, if a rule applies. */
  take(method: string, pathname: string): Fault | undefined {
    for (const live of this.#rules) {
      const { rule } = live;
      if (live.used >= rule.times) continue;
      if (rule.method !== undefined && rule.method.toUpperCase() !== method.toUpperCase()) {
        continue;
      }
      if (rule.pathPattern !== undefined) {
        const hit = pathname.includes(rule.pathPattern) || (live.regexp?.test(pathname) ?? false);
        if (!hit) continue;
      }
      if (live.skipped < (rule.skip ?? 0)) {
        live.skipped++;
        return undefined;
      }
      live.used++;
      return rule.fault;
    }
    return undefined;
  }
}

/** The sandbox's rate limit: a sliding window per API key, and how refusals look. */
export interface RateConfig {
  requests: number;
  windowMs: number;
  /**
   * After each refusal, refuse everything for this long (a large account saw `Retry-After:
   * 60` and stayed refused for 8+ minutes). Refusals during a lockout extend it.
   */
  lockoutMs?: number;
  /** Send `Retry-After` with 429s (default true; Smartlead does only sometimes). */
  retryAfter?: boolean;
  /**
   * `x-ratelimit-reset` as seconds from now ("delta", default), as a Unix time in seconds
   * ("epoch"), or no `x-ratelimit-*` headers at all ("none").
   */
  reset?: "delta" | "epoch" | "none";
}

export interface RateVerdict {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Milliseconds until a request would be admitted again (0 when allowed). */
  waitMs: number;
  /** Milliseconds until the oldest request in the window leaves it. */
  resetMs: number;
}

/**
 * Sliding-window limiter: refuse when `requests` already arrived in the last `windowMs`, or
 * during a lockout. Only admitted requests count.
 */
export class RateWindow {
  #arrivals: number[] = [];
  #lockedUntil = 0;

  constructor(public rate: RateConfig | null) {}

  set(rate: RateConfig | null): void {
    this.rate = rate;
    this.#arrivals = [];
    this.#lockedUntil = 0;
  }

  /** Count a request at `now` unless refused; null when unlimited. */
  admit(now: number): RateVerdict | null {
    const rate = this.rate;
    if (!rate) return null;
    this.#arrivals = this.#arrivals.filter((t) => t > now - rate.windowMs);
    const oldest = this.#arrivals[0];
    const untilFree = oldest === undefined ? 0 : oldest + rate.windowMs - now;
    if (this.#arrivals.length >= rate.requests || now < this.#lockedUntil) {
      if (rate.lockoutMs) this.#lockedUntil = Math.max(this.#lockedUntil, now + rate.lockoutMs);
      const full = this.#arrivals.length >= rate.requests ? untilFree : 0;
      return {
        allowed: false,
        limit: rate.requests,
        remaining: 0,
        waitMs: Math.max(full, this.#lockedUntil - now),
        resetMs: Math.max(full, this.#lockedUntil - now),
      };
    }
    this.#arrivals.push(now);
    const first = this.#arrivals[0] ?? now;
    return {
      allowed: true,
      limit: rate.requests,
      remaining: rate.requests - this.#arrivals.length,
      waitMs: 0,
      resetMs: first + rate.windowMs - now,
    };
  }
}

/** The headers a verdict is answered with, per the config (`epochMs`: the wall clock). */
export function rateHeaders(
  v: RateVerdict,
  rate: RateConfig,
  epochMs: number,
): Record<string, string> {
  const h: Record<string, string> = {};
  const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));
  if (!v.allowed && rate.retryAfter !== false) h["retry-after"] = String(seconds(v.waitMs));
  if (rate.reset === "none") return h;
  h["x-ratelimit-limit"] = String(v.limit);
  h["x-ratelimit-remaining"] = String(v.remaining);
  h["x-ratelimit-reset"] = rate.reset === "epoch"
    ? String(Math.ceil((epochMs + v.resetMs) / 1000))
    : String(seconds(v.resetMs));
  return h;
}
