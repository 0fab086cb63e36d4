/**
 * From one parsed JSON value to a row (shared by NDJSON and JSON arrays): nested objects
 * flattened to `parent.child` columns (or left for the lead to reject, `--nested reject`),
 * and, for text that is not JSON, where the error is and what it is.
 */
import { normalizeHeader } from "../mapping.ts";
import type { Row } from "./row.ts";

/** `flatten`: `{"address": {"city": "X"}}` → column `address.city`; `reject`: the row is rejected. */
export type NestedMode = "flatten" | "reject";

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

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** A row that could not be read, keeping its text for the rejects file. */
export function problemRow(source: string, line: number, problem: string, raw?: string): Row {
  return {
    source,
    line,
    columns: NO_COLUMNS,
    values: [],
    problem,
    ...(raw !== undefined ? { raw } : {}),
  };
}

/**
 * Adds `value`'s leaves under `prefix.` to `out`; returns a clashing key, if any. Arrays and
 * scalars are leaves (the lead joins arrays of scalars).
 */
function flattenInto(
  out: Map<string, unknown>,
  prefix: string,
  value: Record<string, unknown>,
): string | undefined {
  for (const [k, v] of Object.entries(value)) {
    const key = prefix === "" ? k : `${prefix}.${k}`;
    if (isPlainObject(v)) {
      const clash = flattenInto(out, key, v);
      if (clash !== undefined) return clash;
    } else if (out.has(key)) return key;
    else out.set(key, v);
  }
  return undefined;
}

/**
 * The row for one parsed value: an object becomes columns and values (flattened unless
 * `nested` is `reject`); anything else is a rejected row.
 */
export function valueRow(
  source: string,
  line: number,
  value: unknown,
  nested: NestedMode,
  raw: string,
  what: "line" | "element" = "line",
): Row {
  if (!isPlainObject(value)) {
    return problemRow(source, line, `${what} is ${describe(value)}, not a JSON object`, raw);
  }
  if (tooDeep(value, MAX_DEPTH)) {
    return problemRow(source, line, `nested more than ${MAX_DEPTH} levels deep`);
  }
  const columns = Object.keys(value);
  const values = Object.values(value);
  if (nested === "reject" || !values.some(isPlainObject)) {
    return { source, line, columns, values };
  }
  // Flatten: `custom_fields` stays one object (its own nested objects flattened inside it).
  const flat = new Map<string, unknown>();
  let clash: string | undefined;
  for (let i = 0; i < columns.length && clash === undefined; i++) {
    const k = columns[i]!;
    const v = values[i];
    if (isPlainObject(v) && normalizeHeader(k) === "customfields") {
      const inner = new Map<string, unknown>();
      clash = flattenInto(inner, "", v);
      if (flat.has(k)) clash = k;
      flat.set(k, Object.fromEntries(inner));
    } else if (isPlainObject(v)) clash = flattenInto(flat, k, v);
    else if (flat.has(k)) clash = k;
    else flat.set(k, v);
  }
  if (clash !== undefined) {
    return problemRow(
      source,
      line,
      `key ${JSON.stringify(clash)} appears twice once nested objects are flattened ` +
        "(a dotted key and a nested one)",
    );
  }
  return { source, line, columns: [...flat.keys()], values: [...flat.values()] };
}

/** Where JSON.parse failed in `text`, and why, in words (V8's message without its echo). */
export function describeJsonError(text: string, e: unknown): string {
  if (e instanceof RangeError) return "nested too deeply";
  let why = e instanceof Error ? e.message : String(e);
  why = why.replace(/, ".*" is not valid JSON$/s, "")
    .replace(/ at position \d+.*$/s, "").replace(/ in JSON$/, "")
    .replace(/^Unexpected end of JSON input$/, "the text ends before the value does");
  why = why.charAt(0).toLowerCase() + why.slice(1);
  const at = jsonErrorOffset(text);
  if (at === undefined) return `invalid JSON: ${why}`;
  if (at >= text.length) why = "the text ends before the value does";
  const before = text.slice(0, at);
  const nl = before.lastIndexOf("\n");
  const lineNo = before.split("\n").length;
  const column = at - nl;
  return `invalid JSON at ${
    lineNo > 1 ? `line ${lineNo} of the value, ` : ""
  }column ${column}: ${why}`;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * The offset of the first character that makes `s` invalid JSON (its length when the text
 * ends early), or undefined when it is valid (or too deep to check). Only used on errors.
 */
export function jsonErrorOffset(s: string): number | undefined {
  let i = 0;
  const ws = () => {
    while (i < s.length && " \t\n\r".includes(s[i]!)) i++;
  };
  const str = () => {
    i++; // the opening quote
    while (true) {
      if (i >= s.length) throw i;
      const c = s.charCodeAt(i);
      if (c === 34) {
        i++;
        return;
      }
      if (c < 0x20) throw i;
      if (c === 92) {
        const n = s[i + 1];
        if (n === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) throw i;
          i += 6;
        } else if (n !== undefined && '"\\/bfnrt'.includes(n)) i += 2;
        else throw i;
      } else i++;
    }
  };
  const value = (depth: number): void => {
    if (depth > 512) throw -1;
    ws();
    const c = s[i];
    if (c === "{" || c === "[") {
      const close = c === "{" ? "}" : "]";
      i++;
      ws();
      if (s[i] === close) {
        i++;
        return;
      }
      while (true) {
        ws();
        if (c === "{") {
          if (s[i] !== '"') throw i;
          str();
          ws();
          if (s[i] !== ":") throw i;
          i++;
        }
        value(depth + 1);
        ws();
        if (s[i] === ",") i++;
        else if (s[i] === close) {
          i++;
          return;
        } else throw i;
      }
    }
    if (c === '"') return str();
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) {
      NUMBER.lastIndex = i;
      if (!NUMBER.test(s)) throw i;
      i = NUMBER.lastIndex;
      return;
    }
    for (const lit of ["true", "false", "null"]) {
      if (s.startsWith(lit, i)) {
        i += lit.length;
        return;
      }
    }
    throw i;
  };
  try {
    value(0);
    ws();
    return i < s.length ? i : undefined;
  } catch (e) {
    return typeof e === "number" && e >= 0 ? e : undefined;
  }
}
