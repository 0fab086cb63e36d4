/** Turns every input into rows, in order, choosing CSV or NDJSON per input. */
import { parseCsv } from "./csv.ts";
import { parseNdjson } from "./ndjson.ts";
import type { Row } from "./row.ts";
import {
  type Format,
  formatFromName,
  type InputSource,
  readText,
  sniffFormat,
  type TextChunk,
} from "./source.ts";

export interface ParseOptions {
  format?: Format;
  stdin?: ReadableStream<Uint8Array>;
  /** Called with the bytes read from the current input, for progress. */
  onBytes?: (source: InputSource, bytesRead: number) => void;
}

/** Reads and parses the inputs one after the other, yielding batches of rows. */
export async function* readRows(
  sources: readonly InputSource[],
  opts: ParseOptions = {},
): AsyncGenerator<Row[]> {
  for (const src of sources) {
    const chunks = readText(src, opts.stdin);
    const first = await chunks.next();
    if (first.done) continue;
    const format = opts.format ??
      (src.path !== undefined ? formatFromName(src.path) : undefined) ??
      sniffFormat(first.value.text);
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
    const delimiter = src.path?.toLowerCase().replace(/\.gz$/, "").endsWith(".tsv")
      ? "\t"
      : undefined;
    yield* format === "ndjson"
      ? parseNdjson(all())
      : parseCsv(all(), delimiter ? { delimiter } : {});
  }
}
