/**
 * Protocol input (Airbyte and Singer messages): one JSON message per line, UTF-8, read as it
 * arrives (a batch per read, so a slow source is handled line by line, never held back).
 */
import { UsageError } from "../errors.ts";
import { MAX_RECORD_CHARS } from "../input/csv.ts";

/** Input that breaks the protocol (not UTF-8, not JSON, a message out of place). */
export class ProtocolInputError extends UsageError {}

/** One non-blank input line and its 1-based number. */
export interface Line {
  number: number;
  text: string;
}

const NL = 0x0a;

/** Splits a byte stream into batches of lines; `name` is used in messages ("stdin"). */
export async function* readLines(
  stream: ReadableStream<Uint8Array>,
  name: string,
): AsyncGenerator<Line[]> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let held: Uint8Array = new Uint8Array(0);
  let number = 0;
  const split = (bytes: Uint8Array): Line[] => {
    let text: string;
    try {
      text = decoder.decode(bytes);
    } catch {
      throw new ProtocolInputError(
        `${name}: line ${number + badLine(bytes)}: not valid UTF-8`,
        "messages must be UTF-8 JSON, one per line",
      );
    }
    const out: Line[] = [];
    for (const raw of text.split("\n")) {
      number++;
      const t = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
      if (t.trim() !== "") out.push({ number, text: t });
    }
    return out;
  };
  for await (const chunk of stream) {
    const bytes: Uint8Array = held.length === 0 ? chunk : concat(held, chunk);
    const last = bytes.lastIndexOf(NL);
    if (last < 0) {
      held = bytes;
      if (held.length > MAX_RECORD_CHARS * 4) {
        throw new ProtocolInputError(
          `${name}: line ${number + 1}: a message runs past ${MAX_RECORD_CHARS / 1048576} MB`,
          "messages must be JSON, one per line",
        );
      }
      continue;
    }
    held = bytes.slice(last + 1);
    const lines = split(bytes.subarray(0, last));
    if (lines.length > 0) yield lines;
  }
  if (held.length > 0) {
    const lines = split(held);
    if (lines.length > 0) yield lines;
  }
}

/** The 1-based line (within `bytes`) of the first byte sequence that is not UTF-8. */
function badLine(bytes: Uint8Array): number {
  const check = new TextDecoder("utf-8", { fatal: true });
  let start = 0;
  let line = 1;
  while (start <= bytes.length) {
    let end = bytes.indexOf(NL, start);
    if (end < 0) end = bytes.length;
    try {
      check.decode(bytes.subarray(start, end));
    } catch {
      return line;
    }
    start = end + 1;
    line++;
  }
  return line;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** A line's JSON object, or a usage error naming the line. */
export function parseMessage(line: Line, name: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line.text);
  } catch {
    throw new ProtocolInputError(
      `${name}: line ${line.number}: not a JSON message`,
      "the input must be protocol messages, one JSON object per line",
    );
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ProtocolInputError(
      `${name}: line ${line.number}: not a JSON object`,
      "the input must be protocol messages, one JSON object per line",
    );
  }
  return value as Record<string, unknown>;
}
