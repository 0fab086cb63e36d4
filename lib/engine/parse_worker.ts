/**
 * The parse worker: runs the CLI's own reading and parsing code (`readRows`: strict UTF-8,
 * gzip, BOM, papaparse's raw Parser, line numbers, malformed-row problems) on a second core
 * and hands the rows over in chunks, at most `credits` chunks ahead of the consumer (a
 * bounded queue: memory stays flat whatever the input size).
 *
 * CSV rows (every value a string) travel flat: all values of a chunk joined by NUL (which
 * `readText` refuses in input, so it cannot occur in a value), plus per-row field counts
 * and lines; the main thread splits once per chunk instead of structured-cloning a million
 * small arrays. NDJSON rows (values of any JSON type) are cloned as they are.
 *
 * Protocol (see `worker_rows.ts`): main → worker `start` then one `credit` per chunk
 * consumed; worker → main `chunk`s, then `end` or `error`. A chunk names its header only
 * when it announces one (the first chunk of each CSV input), so that all of a file's rows
 * share one header array on the main thread too.
 */
/// <reference lib="deno.worker" />
import { SyncError } from "../errors.ts";
import { type InputOptions, readRows } from "../input/parse.ts";
import { csvHeaders, type Row } from "../input/row.ts";
import type { Format, InputSource } from "../input/source.ts";

export interface StartMessage {
  type: "start";
  sources: InputSource[];
  format?: Format;
  /** How inputs are read (the CLI's input flags). */
  input?: InputOptions;
  /** Chunks the worker may send before the first credit comes back. */
  credits: number;
}

export interface FlatChunk {
  type: "chunk";
  source: string;
  /** The header announced by this chunk's first record, if it has one (CSV). */
  header: string[] | undefined;
  headerLine: number;
  /** CSV (flat) or NDJSON (`rows`). */
  flat: boolean;
  /** CSV: the values of every row, joined by NUL. */
  text: string;
  /** Per row: how many values it has, its line, and its problem (index into `problems`, or -1). */
  counts: Int32Array;
  lines: Int32Array;
  problemAt: Int32Array;
  problems: string[];
  /** A ragged row's values beyond the header, per problem (kept for the reject). */
  extras: (readonly string[] | undefined)[];
  /** NDJSON: the rows themselves. */
  rows: Row[] | undefined;
  bytesRead: number;
}

export type WorkerMessage =
  | FlatChunk
  | { type: "end" }
  | { type: "warning"; message: string }
  | { type: "error"; name: string; message: string; hint: string | undefined; exitCode: number };

const self = globalThis as unknown as {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(m: WorkerMessage, transfer?: Transferable[]): void;
};

/** Rows per message, at least (a chunk also ends with its input). */
const CHUNK_ROWS = 4096;

let credits = 0;
let wake: (() => void) | undefined;

function encode(batch: Row[], bytesRead: number): FlatChunk {
  let header: string[] | undefined;
  let headerLine = 0;
  let rows = batch;
  if (batch[0]?.header) {
    header = batch[0].columns as string[];
    headerLine = batch[0].line;
    rows = batch.slice(1);
  }
  // CSV rows share their file's header array (csv.ts) and hold strings only; NDJSON rows
  // carry their own keys. A batch comes from one input, so its first row tells.
  const csv = rows.length > 0 && csvHeaders.has(rows[0]!.columns);
  if (!csv) {
    return {
      type: "chunk",
      source: batch[0]?.source ?? "",
      header,
      headerLine,
      flat: false,
      text: "",
      counts: new Int32Array(0),
      lines: new Int32Array(0),
      problemAt: new Int32Array(0),
      problems: [],
      extras: [],
      rows,
      bytesRead,
    };
  }
  const counts = new Int32Array(rows.length);
  const lines = new Int32Array(rows.length);
  const problemAt = new Int32Array(rows.length).fill(-1);
  const problems: string[] = [];
  const extras: (readonly string[] | undefined)[] = [];
  const parts: string[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    counts[i] = r.values.length;
    lines[i] = r.line;
    if (r.problem !== undefined) {
      problemAt[i] = problems.length;
      problems.push(r.problem);
      extras.push(r.extra);
    }
    // A CSV row has at least one value (an empty line is no row), so rows joined by NUL
    // keep every value in place.
    parts[i] = r.values.join("\0");
  }
  return {
    type: "chunk",
    source: batch[0]?.source ?? "",
    header,
    headerLine,
    flat: true,
    text: parts.join("\0"),
    counts,
    lines,
    problemAt,
    problems,
    extras,
    rows: undefined,
    bytesRead,
  };
}

async function run(start: StartMessage): Promise<void> {
  credits = start.credits;
  let bytesRead = 0;
  try {
    const { encoding, nested, ...csv } = start.input ?? {};
    const rows = readRows(start.sources, {
      ...(start.format ? { format: start.format } : {}),
      ...(encoding !== undefined ? { encoding } : {}),
      ...(nested !== undefined ? { nested } : {}),
      csv: { ...csv, warn: (message) => self.postMessage({ type: "warning", message }) },
      onBytes: (_src, n) => (bytesRead = n),
    });
    // readRows yields a batch per 64 KiB read; they are sent CHUNK_ROWS rows at a time
    // (one input per chunk, a header only at a chunk's start), so that the per-message
    // costs on both sides are paid a few hundred times per million rows.
    let pending: Row[] = [];
    const send = async () => {
      if (pending.length === 0) return;
      while (credits === 0) await new Promise<void>((resolve) => (wake = resolve));
      credits--;
      const chunk = encode(pending, bytesRead);
      pending = [];
      const buffers = [chunk.counts.buffer, chunk.lines.buffer, chunk.problemAt.buffer];
      self.postMessage(chunk, buffers as ArrayBuffer[]);
    };
    try {
      for await (const batch of rows) {
        const first = batch[0];
        if (first === undefined) continue;
        if (first.header || (pending.length > 0 && pending[0]!.source !== first.source)) {
          await send();
        }
        if (pending.length === 0) pending = batch;
        else for (const r of batch) pending.push(r);
        if (pending.length >= CHUNK_ROWS) await send();
      }
    } finally {
      await send(); // the rows read before an error go first
    }
    self.postMessage({ type: "end" });
  } catch (e) {
    const s = e instanceof SyncError ? e : undefined;
    self.postMessage({
      type: "error",
      name: s ? s.name : "Error",
      message: e instanceof Error ? e.message : String(e),
      hint: s?.hint,
      exitCode: s?.exitCode ?? 1,
    });
  }
}

self.onmessage = (e: MessageEvent) => {
  const m = e.data as StartMessage | { type: "credit" };
  if (m.type === "start") void run(m);
  else {
    credits++;
    wake?.();
    wake = undefined;
  }
};
