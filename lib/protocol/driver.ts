/**
 * What the Airbyte destination and the Singer target share: read protocol lines, turn each
 * record into one NDJSON row for `push()` (ordinals counted exactly as push counts rows),
 * hold each state until push reports the records before it done, and start push when the
 * first record arrives (so a run without records makes no request).
 */
import { SyncError, UsageError } from "../errors.ts";
import { push, PushFailed, type PushOptions } from "../push.ts";
import type { Summary } from "../pipeline/report.ts";
import { Checkpoints, OrdinalStreams } from "./checkpoints.ts";
import type { Line } from "./lines.ts";

/** What one input line turned out to be. */
export type Handled =
  | { kind: "record"; stream: string; data: unknown }
  | { kind: "state"; emit: () => void }
  | { kind: "other" };

export interface DriveOptions {
  /** Classifies one line (and acts on messages other than records and states). */
  handle(line: Line): Handled;
  /** Called once, when the first record arrives: the options push runs with. */
  start(): Promise<PushOptions>;
}

/** How a drive ended. */
export interface Driven {
  /** push's summary; undefined when no record arrived (push never ran). */
  summary: Summary | undefined;
  records: OrdinalStreams;
  checkpoints: Checkpoints;
}

/** A drive that failed: the error, and what was known when it did. */
export class DriveFailed extends Error {
  constructor(
    readonly error: SyncError | Error,
    readonly summary: Summary | undefined,
    readonly records: OrdinalStreams,
  ) {
    super(error.message, { cause: error });
  }
}

const enc = new TextEncoder();

/** Runs the protocol input through push; see the module comment. */
export async function drive(lines: AsyncIterable<Line[]>, opts: DriveOptions): Promise<Driven> {
  const records = new OrdinalStreams();
  const checkpoints = new Checkpoints();
  const it = lines[Symbol.asyncIterator]();
  // Lines classified but not yet handed to push, as NDJSON rows.
  let rows: string[] = [];
  const take = (line: Line): boolean => {
    const h = opts.handle(line);
    if (h.kind === "record") {
      records.add(h.stream);
      rows.push(JSON.stringify(h.data) ?? "null");
      return true;
    }
    if (h.kind === "state") checkpoints.add(records.count, h.emit);
    return false;
  };

  // Until the first record: states go out at once (nothing is pending).
  let rest: Line[] = [];
  let first = false;
  while (!first) {
    const r = await it.next();
    if (r.done) return { summary: undefined, records, checkpoints };
    const batch = r.value;
    for (let i = 0; i < batch.length && !first; i++) {
      if (take(batch[i]!)) {
        first = true;
        rest = batch.slice(i + 1);
      }
    }
  }

  let failure: unknown;
  async function* feed(): AsyncGenerator<Uint8Array> {
    try {
      for (const line of rest) take(line);
      rest = [];
      while (true) {
        if (rows.length > 0) {
          const text = rows.join("\n") + "\n";
          rows = [];
          yield enc.encode(text);
        }
        const r = await it.next();
        if (r.done) return;
        for (const line of r.value) take(line);
      }
    } catch (e) {
      // push words an error of its input as its own: keep the original to report.
      failure = e;
      throw e;
    }
  }

  const pushOptions = await opts.start();
  let summary: Summary;
  try {
    summary = await push({
      ...pushOptions,
      stdin: ReadableStream.from(feed()),
      onCommitted: (n) => checkpoints.committed(n),
      // States wait for the updates before them: none is kept back to the end of input; and
      // records that arrived go on when the source pauses, so that their states follow.
      engine: { holdUpdates: 0, idleFlushMs: 200, ...pushOptions.engine },
    });
  } catch (e) {
    // A full refresh without removal whose records were all rejected: the guard rail against
    // mirroring an empty input stopped it before any write; nothing needed sending.
    if (
      failure === undefined && e instanceof PushFailed && e.error instanceof UsageError &&
      e.summary.valid === 0 && e.summary.rows === records.count &&
      pushOptions.mode === "full-refresh" && !pushOptions.deleteMissing
    ) {
      checkpoints.committed(records.count);
      return { summary: e.summary, records, checkpoints };
    }
    const why = failure ?? (e instanceof PushFailed ? e.error : e);
    throw new DriveFailed(
      why instanceof Error ? why : new Error(String(why)),
      e instanceof PushFailed ? e.summary : undefined,
      records,
    );
  }
  if (checkpoints.pending > 0) {
    throw new DriveFailed(
      new SyncError(
        `internal error: ${checkpoints.pending} state messages held back: push reported fewer rows done than the ${records.count} records read`,
        "report it",
      ),
      summary,
      records,
    );
  }
  return { summary, records, checkpoints };
}
