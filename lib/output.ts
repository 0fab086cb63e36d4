/**
 * The two output channels: stdout is data (`--json`), stderr is people. Everything that
 * leaves the process through here is passed through `redact`, then `escapeControl` (no
 * header, server message or body can drive the terminal; JSON stays the same JSON).
 */
import { escapeControl } from "./escape.ts";
import { redact } from "./redact.ts";

const enc = new TextEncoder();

/** Where a command writes; tests and the library may replace it. */
export interface Output {
  out(text: string): void;
  err(text: string): void;
  /**
   * Terminal control of the tool's own (the progress line's carriage return, line erase and
   * colours): written to stderr as is. Without it, `err` is used.
   */
  draw?(text: string): void;
  /** stderr is a terminal (progress is drawn only then). */
  errIsTty: boolean;
  color: boolean;
}

function writeAll(file: { writeSync(p: Uint8Array): number }, text: string, raw = false): void {
  const data = enc.encode(raw ? redact(text) : escapeControl(redact(text)));
  let off = 0;
  while (off < data.length) off += file.writeSync(data.subarray(off));
}

/** The process's real stdout and stderr. */
export function processOutput(): Output {
  let noColor = false;
  try {
    noColor = Deno.env.get("NO_COLOR") !== undefined && Deno.env.get("NO_COLOR") !== "";
  } catch {
    noColor = true;
  }
  const tty = Deno.stderr.isTerminal();
  return {
    out: (t) => writeAll(Deno.stdout, t),
    err: (t) => writeAll(Deno.stderr, t),
    draw: (t) => writeAll(Deno.stderr, t, true),
    errIsTty: tty,
    color: tty && !noColor,
  };
}
