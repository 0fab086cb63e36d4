/**
 * The live progress line on stderr (TTY only): rows read and sent (together while batches
 * go out during reading), skipped, rejected, rate, ETA from the input's byte offset,
 * counters for the one-request-per-lead phases (updates, deletes) and the roster read, and
 * a visible wait while the rate limiter or a `Retry-After` holds the run. `renderProgress`
 * is pure, for tests.
 */
import type { SmartleadClient } from "./client/smartlead.ts";
import type { Output } from "./output.ts";
import { RunStats } from "./pipeline/stats.ts";
import type { Progress } from "./push.ts";

function n(x: number): string {
  return x.toLocaleString("en-US");
}

function secs(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

/** One line describing the run so far. */
export function renderProgress(
  p: Progress,
  elapsedMs: number,
  color = false,
  now: number = performance.now(),
): string {
  const s = p.stats;
  const parts: string[] = [];
  const dim = (t: string) => (color ? `\x1b[2m${t}\x1b[22m` : t);
  const yellow = (t: string) => (color ? `\x1b[33m${t}\x1b[39m` : t);
  if (p.phase === "reading" || p.phase === "planning") {
    parts.push(`read ${n(s.rows)} rows`);
    const rate = elapsedMs > 0 ? Math.round((s.rows * 1000) / elapsedMs) : 0;
    if (p.bytesTotal && p.bytesTotal > 0) {
      const frac = Math.min(1, p.bytesRead / p.bytesTotal);
      parts.push(`${Math.floor(frac * 100)}%`);
      if (frac > 0.01 && frac < 1) parts.push(`ETA ${secs((elapsedMs / frac) * (1 - frac))}`);
    }
    parts.push(`${n(rate)} rows/s`);
    if (s.rejected) parts.push(`${n(s.rejected)} rejected`);
    // Batches go out while the input is read: what was sent so far.
    if (s.sent > 0) {
      parts.push(`sent ${n(s.sent)}`, `added ${n(s.added)}`, `updated ${n(s.updated)}`);
    }
    if (p.phase === "planning") parts.push("planning");
  } else if (p.phase === "roster") {
    const total = s.rosterTotal === undefined ? "" : `/${n(s.rosterTotal)}`;
    parts.push(`reading the campaign roster: ${n(s.rosterRead)}${total} leads`);
  } else if (p.phase === "updating") {
    parts.push(`updating ${n(s.updatesDone)}/${n(s.plannedUpdates)}`);
    parts.push(`updated ${n(s.updated)}`);
    const rejected = s.rejected + s.rejectedBySmartlead;
    if (rejected) parts.push(`${n(rejected)} rejected`);
  } else if (p.phase === "deleting") {
    parts.push(`deleting ${n(s.deleted)}/${n(s.plannedDeletes)}`);
  } else {
    const total = s.plannedAdds + s.plannedUpdates;
    parts.push(`sent ${n(s.sent)}/${n(total)}`);
    parts.push(`added ${n(s.added)}`, `updated ${n(s.updated)}`, `skipped ${n(s.unchanged)}`);
    const rejected = s.rejected + s.rejectedBySmartlead;
    if (rejected) parts.push(`${n(rejected)} rejected`);
  }
  const waiting = p.waitingUntil - now;
  if (waiting > 0) {
    // First, so that a narrow terminal still shows why nothing moves.
    parts.unshift(
      yellow(`waiting ${(waiting / 1000).toFixed(1)}s (${p.waitReason ?? "rate limit"})`),
    );
  }
  return parts.join(dim(" · "));
}

/** Time and timers for `ProgressLine`; tests pass a fake one. */
export interface ProgressClock {
  now(): number;
  /** Calls `f` every `ms` until the returned function is called. */
  every(f: () => void, ms: number): () => void;
}

const realClock: ProgressClock = {
  now: () => performance.now(),
  every: (f, ms) => {
    const id = setInterval(f, ms);
    return () => clearInterval(id);
  },
};

/** Redraws one stderr line at most ten times a second. */
export class ProgressLine {
  #out: Output;
  #clock: ProgressClock;
  #start: number;
  /** When the line was last drawn; never, at first, so the first update always draws. */
  #last = Number.NEGATIVE_INFINITY;
  #shown = false;
  #latest: Progress | undefined;
  /** The phase last drawn: a new phase is drawn at once, whatever the throttle says. */
  #phase: Progress["phase"] | undefined;
  #cancel: (() => void) | undefined;

  constructor(out: Output, clock: ProgressClock = realClock) {
    this.#out = out;
    this.#clock = clock;
    this.#start = clock.now();
    // Keeps a wait visible even when no new event arrives.
    this.#cancel = clock.every(() => this.#draw(), 250);
  }

  update(p: Progress): void {
    this.#latest = p;
    if (p.phase !== this.#phase || this.#clock.now() - this.#last >= 100) this.#draw();
  }

  #draw(): void {
    if (!this.#latest) return;
    this.#last = this.#clock.now();
    this.#phase = this.#latest.phase;
    const cols = consoleWidth();
    let line = renderProgress(this.#latest, this.#last - this.#start, this.#out.color, this.#last);
    if (!this.#out.color && line.length > cols - 1) line = line.slice(0, cols - 1);
    this.#write(`\r\x1b[2K${line}`);
    this.#shown = true;
  }

  clear(): void {
    if (this.#shown) this.#write("\r\x1b[2K");
    this.#shown = false;
  }

  #write(text: string): void {
    if (this.#out.draw) this.#out.draw(text);
    else this.#out.err(text);
  }

  stop(): void {
    this.#cancel?.();
    this.#cancel = undefined;
    this.clear();
  }
}

function consoleWidth(): number {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return 100;
  }
}

/**
 * Progress for a roster read outside a push (`verify`): the callback to give
 * `client.roster()`, drawing on `line` (none without a terminal), with the rate-limit waits.
 */
export function rosterProgress(
  line: ProgressLine | undefined,
  client: SmartleadClient,
): ((read: number, total: number | undefined) => void) | undefined {
  if (!line) return undefined;
  const stats = new RunStats();
  const p: Progress = {
    phase: "roster",
    stats,
    bytesRead: 0,
    bytesTotal: undefined,
    waitingUntil: 0,
    waitReason: undefined,
  };
  client.limiter.onWait = (ms, reason) => {
    [p.waitingUntil, p.waitReason] = [performance.now() + ms, reason];
    line.update(p);
  };
  return (read, total) => {
    [stats.rosterRead, stats.rosterTotal] = [read, total];
    line.update(p);
  };
}
