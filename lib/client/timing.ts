/**
 * Time for the rate limiter (a clock and an abortable sleep, both injectable) and the
 * server's timing signals: `Retry-After` and `x-ratelimit-reset`.
 */

/** Sleeps `ms`; rejects with the signal's reason when it aborts. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** A sleep that an AbortSignal cuts short (rejecting with the signal's reason). */
export const realSleep: Sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const done = () => {
      signal?.removeEventListener("abort", abort);
      resolve();
    };
    const timer = setTimeout(done, ms);
    const abort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", abort, { once: true });
  });

/** Time for the limiter: a monotonic clock, a sleep, and the epoch (for epoch resets). */
export interface Clock {
  now(): number;
  sleep: Sleep;
  /** Milliseconds since the Unix epoch; default `Date.now`. */
  epoch?(): number;
  /** Uniform in [0, 1), for the jitter of repeated refusals; default `Math.random`. */
  random?(): number;
}

/** `Retry-After` in seconds or as an HTTP date, in milliseconds (at most 10 minutes). */
export function parseRetryAfter(
  value: string | null,
  epochNow: number = Date.now(),
): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.min(seconds, 600)) * 1000;
  const at = Date.parse(value);
  if (Number.isFinite(at)) return Math.max(0, Math.min(at - epochNow, 600_000));
  return undefined;
}

/** `x-ratelimit-reset` in milliseconds from now: a delta in seconds, or an epoch (s or ms). */
export function resetDelayMs(value: string | null, epochNow: number): number | undefined {
  const v = Number(value?.trim() || NaN);
  if (!Number.isFinite(v) || v < 0) return undefined;
  let ms: number;
  if (v > 1e12) ms = v - epochNow; // epoch milliseconds
  else if (v > 1e9) ms = v * 1000 - epochNow; // epoch seconds
  else ms = v * 1000;
  return ms > 3_600_000 ? undefined : Math.max(0, ms);
}
