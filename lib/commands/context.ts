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
  /** `--json` was given: `cli.ts` prints `report` as one object on stdout, whatever the exit. */
  json: boolean;
  /**
   * What the command reports with `--json`, set as soon as something is known (the inputs,
   * the campaign) and completed on success; `cli.ts` adds the exit code, error and times.
   * null: the command printed its own JSON (the sandbox's ready line).
   */
  report: Record<string, unknown> | null;
}

/**
 * A parsed integer option, or a usage error naming where the value came from (`flag`: the
 * flag, an environment variable or a config file key; `hint`: how to fix it there).
 */
export function intOption(
  flag: string,
  value: string | number | undefined,
  min: number,
  max: number,
  hint = "see --help",
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
      hint,
    );
  }
  return n;
}

/** Commander's accumulator for repeatable options (`--map a=b --map c=d`). */
export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];
