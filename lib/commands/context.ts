/** What every command handler gets: where to write, stdin, and the debug switch. */
import { UsageError } from "../errors.ts";
import type { Output } from "../output.ts";

export interface CommandContext {
  output: Output;
  stdin: ReadableStream<Uint8Array>;
  /** Set by `--debug`: stacks and request/response lines. */
  debug: boolean;
  /** stdin is an interactive terminal (so reading it would wait for typing). */
  stdinIsTty: boolean;
  /** What the command's action decided the process should exit with. */
  exitCode: number;
}

/** A parsed integer option, or a usage error naming the flag. */
export function intOption(
  flag: string,
  value: string | number | undefined,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === "number" ? value : Number(String(value).trim());
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(
      `${flag} ${JSON.stringify(String(value))}: expected ${
        max >= Number.MAX_SAFE_INTEGER
          ? `a whole number of at least ${min}`
          : `a whole number from ${min} to ${max}`
      }`,
      `see --help`,
    );
  }
  return n;
}

/** Commander's accumulator for repeatable options (`--map a=b --map c=d`). */
export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];
