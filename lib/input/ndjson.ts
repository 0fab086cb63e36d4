/**
 * NDJSON rows: one JSON object per line. A line that is not an object (an array, a string,
 * invalid JSON) becomes a rejected row that keeps the line's text, never a crash. Nested
 * objects are flattened to `parent.child` columns (lib/input/json_value.ts).
 */
import { UsageError } from "../errors.ts";
import { MAX_RECORD_CHARS } from "./csv.ts";
import { describeJsonError, type NestedMode, problemRow, valueRow } from "./json_value.ts";
import type { Row } from "./row.ts";
import type { TextChunk } from "./source.ts";

export { MAX_DEPTH, type NestedMode } from "./json_value.ts";

export interface NdjsonOptions {
  /** Default `flatten`. */
  nested?: NestedMode;
}

/** Parses one input's chunks into batches of rows. */
export async function* parseNdjson(
  chunks: AsyncIterable<TextChunk>,
  opts: NdjsonOptions = {},
): AsyncGenerator<Row[]> {
  const nested = opts.nested ?? "flatten";
  let partial = "";
  let line = 1;
  let seenLine = false;
  for await (const chunk of chunks) {
    if (!chunk.last && chunk.text.indexOf("\n") < 0) {
      // Still inside one long line: searching the whole of it again for every 64 KiB chunk
      // would cost its length squared.
      partial += chunk.text;
      if (partial.length > MAX_RECORD_CHARS) {
        throw new UsageError(
          `${chunk.source}: line ${line}: a line runs past ${MAX_RECORD_CHARS / 1048576} MB`,
          "check that the input is NDJSON (one object per line)",
        );
      }
      continue;
    }
    const text = partial + chunk.text;
    const end = chunk.last ? text.length : text.lastIndexOf("\n") + 1;
    partial = text.slice(end);
    if (partial.length > MAX_RECORD_CHARS) {
      throw new UsageError(
        `${chunk.source}: line ${line}: a line runs past ${MAX_RECORD_CHARS / 1048576} MB`,
        "check that the input is NDJSON (one object per line)",
      );
    }
    const out: Row[] = [];
    let pos = 0;
    while (pos < end) {
      let nl = text.indexOf("\n", pos);
      if (nl < 0 || nl >= end) nl = end;
      const raw = text.slice(pos, nl);
      pos = nl + 1;
      const here = line++;
      if (raw.trim() === "") continue;
      const firstLine = !seenLine;
      seenLine = true;
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch (e) {
        const start = raw.trim();
        if (firstLine && (start === "{" || start.startsWith("["))) {
          throw new UsageError(
            `${chunk.source}: line ${here}: this is a pretty-printed JSON document, not NDJSON ` +
              "(one object per line)",
            start === "{"
              ? "put each object on one line, e.g. jq -c . in.json > out.ndjson"
              : "read it as a JSON array with --format json (or name it .json), or convert it: " +
                "jq -c '.[]' in.json > out.ndjson",
          );
        }
        const text = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
        out.push(problemRow(chunk.source, here, describeJsonError(text, e), text));
        continue;
      }
      out.push(valueRow(chunk.source, here, value, nested, raw));
    }
    if (out.length > 0) yield out;
  }
}
