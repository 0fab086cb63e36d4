/** Turns every input into rows, in order, choosing CSV, NDJSON or a JSON array per input. */
import { UsageError } from "../errors.ts";
import { type CsvOptions, parseCsv } from "./csv.ts";
import { parseJsonArray } from "./json_array.ts";
import { type NestedMode, parseNdjson } from "./ndjson.ts";
import type { Row } from "./row.ts";
import {
  type Format,
  formatFromName,
  type InputSource,
  readText,
  sniffFormat,
  type TextChunk,
} from "./source.ts";

/** How inputs are read, as the user asked (`--encoding`, `--delimiter`, ...). */
export interface InputOptions {
  /** A TextDecoder label for inputs without a byte-order mark; default UTF-8. */
  encoding?: string;
  delimiter?: string;
  /** The CSV has no header line: these are its column names. */
  columns?: readonly string[];
  skipRows?: number;
  nested?: NestedMode;
}

export interface ParseOptions {
  format?: Format;
  stdin?: ReadableStream<Uint8Array>;
  /** A TextDecoder label for inputs without a byte-order mark; default UTF-8. */
  encoding?: string;
  /** CSV only: delimiter, header-less columns, preamble lines, warnings. */
  csv?: CsvOptions;
  /** NDJSON and JSON: nested objects become `parent.child` columns, or rejected rows. */
  nested?: NestedMode;
  /** Called with the bytes read from the current input, for progress. */
  onBytes?: (source: InputSource, bytesRead: number) => void;
  /** A live stream: hand on what has arrived after this long without more (`readText`). */
  idleFlushMs?: number;
}

/** Reads and parses the inputs one after the other, yielding batches of rows. */
export async function* readRows(
  sources: readonly InputSource[],
  opts: ParseOptions = {},
): AsyncGenerator<Row[]> {
  for (const src of sources) {
    const chunks = readText(src, opts.stdin, {
      ...(opts.encoding ? { encoding: opts.encoding } : {}),
      ...(opts.idleFlushMs !== undefined ? { idleFlushMs: opts.idleFlushMs } : {}),
    });
    const first = await chunks.next();
    if (first.done) continue;
    if (src.path === undefined && first.value.last && first.value.bytesRead === 0) {
      // Nothing at all came through stdin: a forgotten file name, or a feeding command that
      // printed nothing (a cron job's usual failure), not a file without a header.
      throw src.implicit
        ? new UsageError(
          "no input file given and stdin is empty",
          "name the input file (smartlead-sync push leads.csv) or pipe data in " +
            "(... | smartlead-sync push -)",
        )
        : new UsageError(
          "stdin is empty: nothing was piped in",
          "check the command that feeds it (its exit status and its output)",
        );
    }
    const format = opts.format ??
      (src.path !== undefined ? formatFromName(src.path) : undefined) ??
      sniffFormat(first.value.text, src.path ?? "");
    const onBytes = opts.onBytes;
    const all = async function* (): AsyncGenerator<TextChunk> {
      if (first.done) return;
      onBytes?.(src, first.value.bytesRead);
      yield first.value;
      for await (const c of chunks) {
        onBytes?.(src, c.bytesRead);
        yield c;
      }
    };
    const nested = opts.nested ?? "flatten";
    if (format === "ndjson") yield* parseNdjson(all(), { nested });
    else if (format === "json") yield* parseJsonArray(all(), { nested });
    else {
      const tsv = src.path?.toLowerCase().replace(/\.gz$/, "").endsWith(".tsv");
      const csv: CsvOptions = { ...opts.csv };
      if (tsv && csv.delimiter === undefined) csv.delimiter = "\t";
      yield* parseCsv(all(), csv);
    }
  }
}
