/**
 * The live progress line on stderr (TTY only): rows read, sent, skipped, rejected, rate,
 * ETA from the input's byte offset, and a visible wait while the rate limiter or a
 * `Retry-After` holds the run. `renderProgress` is pure, for tests.
 */
import type { Output } from "./output.ts";
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
    if (p.phase === "planning") parts.push("planning");
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

/** Redraws one stderr line at most ten times a second. */
export class ProgressLine {
  #out: Output;
  #start = performance.now();
  #last = 0;
  #shown = false;
  #latest: Progress | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(out: Output) {
    this.#out = out;
    // Keeps a wait visible even when no new event arrives.
    this.#timer = setInterval(() => this.#draw(), 250);
  }

  update(p: Progress): void {
    this.#latest = p;
    const now = performance.now();
    if (now - this.#last >= 100) this.#draw();
  }

  #draw(): void {
    if (!this.#latest) return;
    this.#last = performance.now();
    const cols = consoleWidth();
    let line = renderProgress(this.#latest, this.#last - this.#start, this.#out.color);
    if (!this.#out.color && line.length > cols - 1) line = line.slice(0, cols - 1);
    this.#out.err(`\r\x1b[2K${line}`);
    this.#shown = true;
  }

  clear(): void {
    if (this.#shown) this.#out.err("\r\x1b[2K");
    this.#shown = false;
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
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
