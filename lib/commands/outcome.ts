/**
 * The one JSON object `--json` prints on stdout for every exit: what the command reports
 * (the push summary, the check result, ...; on an early failure whatever was known, such
 * as the inputs and the campaign), plus how the run ended and when. `cli.ts` prints it once,
 * after the command returned or threw, so that a `>> runs.jsonl` log loses no run.
 */
import { VERSION } from "../version.ts";

/** How a run ended. */
export interface Ending {
  /** The sub-command, or null when none was recognised. */
  command: string | null;
  exitCode: number;
  /** What went wrong (null for exit 0). */
  error: string | null;
  /** What to do about it. */
  hint: string | null;
  startedAt: Date;
  finishedAt: Date;
}

/** The `--json` object: the command's report, then the ending fields. */
export function outcomeObject(
  report: Readonly<Record<string, unknown>>,
  end: Ending,
): Record<string, unknown> {
  return {
    command: end.command,
    ...report,
    exit_code: end.exitCode,
    error: end.error,
    hint: end.hint,
    version: VERSION,
    started_at: end.startedAt.toISOString(),
    finished_at: end.finishedAt.toISOString(),
  };
}

/** Whether `--json` is among the arguments (before a `--` that ends the options). */
export function jsonRequested(args: readonly string[]): boolean {
  const end = args.indexOf("--");
  return (end < 0 ? args : args.slice(0, end)).includes("--json");
}
