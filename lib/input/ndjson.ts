/**
 * NDJSON rows: one JSON object per line. A line that is not an object (an array, a string,
 * invalid JSON) becomes a rejected row, never a crash.
 */
import { UsageError } from "../errors.ts";
import { MAX_RECORD_CHARS } from "./csv.ts";
import type { Row } from "./row.ts";
import type { TextChunk } from "./source.ts";

const NO_COLUMNS: readonly string[] = [];

/** Deeper values are rejected: no lead field nests, and later stages recurse over rows. */
export const MAX_DEPTH = 64;

/** Whether `value` (an object) nests objects or arrays more than `max` levels deep. */
function tooDeep(value: object, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (depth > max) return true;
    for (const child of Object.values(v as object)) {
      if (child !== null && typeof child === "object") stack.push([child, depth + 1]);
    }
  }
  return false;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return `a ${typeof v}`;
}

/** Parses one input's chunks into batches of rows. */
export async function* parseNdjson(chunks: AsyncIterable<TextChunk>): AsyncGenerator<Row[]> {
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
            `${chunk.source}: line ${here}: this is a JSON document, not NDJSON (one object per line)`,
            "convert it, e.g. jq -c '.[]' in.json > out.ndjson",
          );
        }
        const why = e instanceof RangeError ? "nested too deeply" : "invalid JSON";
        out.push({
          source: chunk.source,
          line: here,
          columns: NO_COLUMNS,
          values: [],
          problem: why,
        });
        continue;
      }
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        out.push({
          source: chunk.source,
          line: here,
          columns: NO_COLUMNS,
          values: [],
          problem: `line is ${describe(value)}, not a JSON object`,
        });
        continue;
      }
      if (tooDeep(value, MAX_DEPTH)) {
        out.push({
          source: chunk.source,
          line: here,
          columns: NO_COLUMNS,
          values: [],
          problem: `nested more than ${MAX_DEPTH} levels deep`,
        });
        continue;
      }
      out.push({
        source: chunk.source,
        line: here,
        columns: Object.keys(value),
        values: Object.values(value),
      });
    }
    if (out.length > 0) yield out;
  }
}
