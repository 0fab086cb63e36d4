/**
 * A `.json` file holding an array of objects (`[{...}, {...}]`), streamed: each element is
 * cut out of the text by its brackets and quotes and parsed alone, so memory stays flat and
 * one bad element is one rejected row (keeping its text), not a failed file.
 */
import { UsageError } from "../errors.ts";
import { MAX_RECORD_CHARS } from "./csv.ts";
import { describeJsonError, type NestedMode, problemRow, valueRow } from "./json_value.ts";
import type { Row } from "./row.ts";
import type { TextChunk } from "./source.ts";

export interface JsonArrayOptions {
  /** Default `flatten`. */
  nested?: NestedMode;
}

const WS = new Set([" ", "\t", "\n", "\r"]);

/**
 * The end (exclusive) of the JSON value starting at `i`, or -1 when `text` ends first. Only
 * brackets, braces and strings are tracked; JSON.parse judges the rest.
 */
export function valueEnd(text: string, i: number): number {
  const c = text[i];
  if (c === "{" || c === "[") {
    let depth = 0;
    for (let k = i; k < text.length; k++) {
      const ch = text.charCodeAt(k);
      if (ch === 34) {
        k = stringEnd(text, k) - 1;
        if (k < 0) return -1;
      } else if (ch === 123 || ch === 91) depth++;
      else if (ch === 125 || ch === 93) {
        if (--depth === 0) return k + 1;
      }
    }
    return -1;
  }
  if (c === '"') return stringEnd(text, i);
  for (let k = i; k < text.length; k++) {
    const ch = text[k]!;
    if (ch === "," || ch === "]" || ch === "}" || WS.has(ch)) return k;
  }
  return -1;
}

/** The end (exclusive) of the string whose opening quote is at `i`, or -1. */
function stringEnd(text: string, i: number): number {
  for (let k = i + 1; k < text.length; k++) {
    const ch = text.charCodeAt(k);
    if (ch === 92) k++;
    else if (ch === 34) return k + 1;
  }
  return -1;
}

function countNl(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = text.indexOf("\n", from); i >= 0 && i < to; i = text.indexOf("\n", i + 1)) n++;
  return n;
}

/** Parses one input's chunks (a JSON array of objects) into batches of rows. */
export async function* parseJsonArray(
  chunks: AsyncIterable<TextChunk>,
  opts: JsonArrayOptions = {},
): AsyncGenerator<Row[]> {
  const nested = opts.nested ?? "flatten";
  let buf = "";
  let line = 1; // line at buf[0]
  let phase = "start" as "start" | "value" | "separator" | "end";
  let source = "";
  const fail = (what: string, hint: string, at: number): never => {
    throw new UsageError(`${source}: line ${line + countNl(buf, 0, at)}: ${what}`, hint);
  };
  for await (const chunk of chunks) {
    source = chunk.source;
    buf += chunk.text;
    const last = chunk.last;
    const out: Row[] = [];
    let i = 0;
    scan: while (i < buf.length) {
      const c = buf[i]!;
      if (WS.has(c)) {
        i++;
        continue;
      }
      switch (phase) {
        case "start":
          if (c !== "[") {
            fail(
              "expected a JSON array of objects ([{...}, {...}])",
              "for one object per line, name the file .ndjson or pass --format ndjson",
              i,
            );
          }
          phase = "value";
          i++;
          continue;
        case "separator":
          if (c === ",") phase = "value";
          else if (c === "]") phase = "end";
          else fail("expected , or ] after an array element", "check the JSON syntax", i);
          i++;
          continue;
        case "end":
          fail("text after the end of the JSON array", "check the JSON syntax", i);
          break;
        case "value": {
          if (c === "]") {
            phase = "end";
            i++;
            continue;
          }
          const end = valueEnd(buf, i);
          if (end < 0) {
            if (!last) break scan;
            fail("the file ends inside an array element", "check that the file is complete", i);
          }
          const raw = buf.slice(i, end);
          const here = line + countNl(buf, 0, i);
          let value: unknown;
          try {
            value = JSON.parse(raw);
          } catch (e) {
            out.push(problemRow(source, here, describeJsonError(raw, e), raw));
            phase = "separator";
            i = end;
            continue;
          }
          out.push(valueRow(source, here, value, nested, raw, "element"));
          phase = "separator";
          i = end;
        }
      }
    }
    line += countNl(buf, 0, i);
    buf = buf.slice(i);
    if (buf.length > MAX_RECORD_CHARS) {
      fail(
        `an array element runs past ${MAX_RECORD_CHARS / 1048576} MB`,
        "check that the file is a JSON array of objects",
        0,
      );
    }
    if (out.length > 0) yield out;
  }
  if (phase !== "end" && phase !== "start") {
    fail("the JSON array is not closed (no ])", "check that the file is complete", buf.length);
  }
}
