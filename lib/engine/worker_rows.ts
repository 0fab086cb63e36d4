/**
 * Row batches for the engine, from the parse worker (`parse_worker.ts`, on a second core)
 * or from `readRows` in this thread: the same rows either way, in the same order, with the
 * same errors.
 *
 * A batch is either flat (CSV: `fields` holds the values of all its rows one after the
 * other; row i has `counts[i]` values from `starts[i]`) or a list of `Row`s (NDJSON, or
 * everything when parsing in this thread). All rows of a batch come from one input.
 */
import { SyncError, UsageError } from "../errors.ts";
import { type InputOptions, type ParseOptions, readRows } from "../input/parse.ts";
import { csvHeaders, type Row } from "../input/row.ts";
import type { Format, InputSource } from "../input/source.ts";
import type { FlatChunk, StartMessage, WorkerMessage } from "./parse_worker.ts";

export interface RowBatch {
  source: string;
  /** A CSV header announced at the start of this batch (the rows below belong to it). */
  header: readonly string[] | undefined;
  /** The header's line. */
  headerLine: number;
  /** The CSV header of the flat rows (the same array for every batch of one file). */
  columns: readonly string[];
  fields: readonly string[];
  starts: Int32Array;
  counts: Int32Array;
  lines: Int32Array;
  /** Per flat row: index into `problems`, or -1. */
  problemAt: Int32Array;
  problems: readonly string[];
  /** Per problem: a ragged row's values beyond the header. */
  extras: readonly (readonly string[] | undefined)[];
  /** Non-flat rows. */
  rows: readonly Row[] | undefined;
  /** Bytes of the current input read so far. */
  bytesRead: number;
}

export interface RowsOptions {
  format?: Format;
  /** Chunks the worker may be ahead of the consumer (default 4). */
  queue?: number;
  /** Standard input, for `-` (this thread only; default `Deno.stdin.readable`). */
  stdin?: ReadableStream<Uint8Array>;
  /** How inputs are read (`--encoding`, `--delimiter`, `--columns`, `--skip-rows`, nesting). */
  input?: InputOptions;
  /** What people should know about an input (duplicate column names), in reading order. */
  warn?: (message: string) => void;
  /** A live stream: rows that have arrived go on after this long without more (`readText`). */
  idleFlushMs?: number;
}

/** `readRows`' options from `RowsOptions` (the reading, not the consumer's). */
export function parseOptions(opts: RowsOptions): ParseOptions {
  const { encoding, nested, ...csv } = opts.input ?? {};
  return {
    ...(opts.format ? { format: opts.format } : {}),
    ...(opts.stdin ? { stdin: opts.stdin } : {}),
    ...(encoding !== undefined ? { encoding } : {}),
    ...(nested !== undefined ? { nested } : {}),
    csv: { ...csv, ...(opts.warn ? { warn: opts.warn } : {}) },
    ...(opts.idleFlushMs !== undefined ? { idleFlushMs: opts.idleFlushMs } : {}),
  };
}

/** The parse worker could not be started (its module is not where it should be). */
export class WorkerUnavailable extends Error {}

/**
 * The rows of the inputs: parsed by the worker when `worker` asks for it and every input is
 * a file, in this thread otherwise and whenever the worker cannot be started (a bundle or
 * executable built without it). This thread is the default: measured on the benchmark file
 * (DEVELOPERS.md, "Measured"), handing 64 KiB-chunk rows over to the main thread costs more
 * CPU than parsing them there, and the two threads did not overlap enough to gain.
 */
export async function* inputRows(
  sources: readonly InputSource[],
  opts: RowsOptions & { worker?: boolean | undefined } = {},
): AsyncGenerator<RowBatch> {
  if (opts.worker === true && sources.every((s) => s.path !== undefined)) {
    try {
      yield* workerRows(sources, opts);
      return;
    } catch (e) {
      if (!(e instanceof WorkerUnavailable)) throw e;
    }
  }
  yield* threadRows(sources, opts);
}

/** Rows built by a front end (records of a protocol stream) as one batch. */
export function rowBatch(rows: readonly Row[]): RowBatch {
  return {
    source: rows[0]?.source ?? "",
    header: undefined,
    headerLine: 0,
    columns: NO_COLUMNS,
    fields: NO_COLUMNS,
    starts: EMPTY_I32,
    counts: EMPTY_I32,
    lines: EMPTY_I32,
    problemAt: EMPTY_I32,
    problems: NO_COLUMNS,
    extras: [],
    rows,
    bytesRead: 0,
  };
}

const EMPTY_I32 = new Int32Array(0);
const NO_COLUMNS: readonly string[] = [];

/** `readRows` in this thread, as batches of `Row`s (header rows become `header`). */
export async function* threadRows(
  sources: readonly InputSource[],
  opts: RowsOptions = {},
): AsyncGenerator<RowBatch> {
  let bytesRead = 0;
  const rows = readRows(sources, {
    ...parseOptions(opts),
    onBytes: (_s, n) => (bytesRead = n),
  });
  for await (const batch of rows) {
    const header = batch[0]?.header ? batch[0].columns : undefined;
    yield {
      source: batch[0]?.source ?? "",
      header,
      headerLine: header ? batch[0]!.line : 0,
      columns: NO_COLUMNS,
      fields: NO_COLUMNS,
      starts: EMPTY_I32,
      counts: EMPTY_I32,
      lines: EMPTY_I32,
      problemAt: EMPTY_I32,
      problems: NO_COLUMNS,
      extras: [],
      rows: header ? batch.slice(1) : batch,
      bytesRead,
    };
  }
}

/** The same batches, parsed by a worker at most `queue` chunks ahead. */
export async function* workerRows(
  sources: readonly InputSource[],
  opts: RowsOptions = {},
): AsyncGenerator<RowBatch> {
  const queue = Math.max(1, opts.queue ?? 4);
  let worker: Worker;
  const url = workerUrl();
  // A bundle copied without its worker (or built without one): parse in this thread, and
  // say nothing (a worker whose module is missing prints an uncaught error on stderr).
  if (url.startsWith("file:") && !moduleExists(url)) throw new WorkerUnavailable(url);
  try {
    worker = new Worker(url, { type: "module" });
  } catch (e) {
    throw new WorkerUnavailable(String(e));
  }
  const inbox: WorkerMessage[] = [];
  let wake: (() => void) | undefined;
  let crashed: unknown;
  let heard = false;
  worker.onmessage = (e: MessageEvent<WorkerMessage>) => {
    heard = true;
    inbox.push(e.data);
    wake?.();
  };
  worker.onerror = (e: ErrorEvent) => {
    e.preventDefault();
    // Before its first message: the worker's module did not load.
    crashed = heard ? (e.error ?? new Error(e.message)) : new WorkerUnavailable(e.message);
    wake?.();
  };
  const start: StartMessage = {
    type: "start",
    sources: [...sources],
    credits: queue,
    ...(opts.format ? { format: opts.format } : {}),
    ...(opts.input ? { input: { ...opts.input } } : {}),
  };
  worker.postMessage(start);
  let columns: readonly string[] = NO_COLUMNS;
  try {
    while (true) {
      while (inbox.length === 0 && crashed === undefined) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
      if (crashed !== undefined) throw crashed;
      const m = inbox.shift()!;
      if (m.type === "end") return;
      if (m.type === "warning") {
        opts.warn?.(m.message);
        continue;
      }
      if (m.type === "error") {
        throw m.exitCode === new UsageError("").exitCode
          ? new UsageError(m.message, m.hint)
          : new SyncError(m.message, m.hint);
      }
      if (m.header !== undefined) {
        columns = m.header;
        csvHeaders.add(columns);
      }
      yield decode(m, columns);
      worker.postMessage({ type: "credit" });
    }
  } finally {
    worker.terminate();
  }
}

function decode(m: FlatChunk, columns: readonly string[]): RowBatch {
  const n = m.counts.length;
  const starts = new Int32Array(n);
  for (let i = 0, at = 0; i < n; i++) {
    starts[i] = at;
    at += m.counts[i]!;
  }
  return {
    source: m.source,
    header: m.header,
    headerLine: m.headerLine,
    columns: m.flat ? columns : NO_COLUMNS,
    fields: m.flat && n > 0 ? m.text.split("\0") : NO_COLUMNS,
    starts,
    counts: m.counts,
    lines: m.lines,
    problemAt: m.problemAt,
    problems: m.problems,
    extras: m.extras,
    rows: m.rows,
    bytesRead: m.bytesRead,
  };
}

/** The rows of a batch as `Row`s (tests, and the rare paths that need one). */
export function batchRows(b: RowBatch): Row[] {
  if (b.rows !== undefined) return [...b.rows];
  const out: Row[] = [];
  for (let i = 0; i < b.counts.length; i++) {
    const at = b.starts[i]!;
    const p = b.problemAt[i]!;
    out.push({
      source: b.source,
      line: b.lines[i]!,
      columns: b.columns,
      values: b.fields.slice(at, at + b.counts[i]!),
      ...(p >= 0 ? { problem: b.problems[p]! } : {}),
      ...(p >= 0 && b.extras[p] ? { extra: b.extras[p] } : {}),
    });
  }
  return out;
}

/**
 * The worker's module: beside this one when running from source or a `deno compile`
 * executable (built with `--include lib/engine/parse_worker.ts`), `parse_worker.js` beside
 * the bundle (`deno task bundle` builds both).
 */
function moduleExists(url: string): boolean {
  try {
    return Deno.statSync(new URL(url)).isFile;
  } catch {
    return false;
  }
}

function workerUrl(): string {
  const here = import.meta.url;
  return new URL(here.endsWith(".js") ? "./parse_worker.js" : "./parse_worker.ts", here).href;
}
