/**
 * Bytes → text for one input: the encoding (a byte-order mark wins, then `--encoding`, then
 * UTF-8), strict decoding whose errors name the line and say what to do, and NUL detection.
 */
import { UsageError } from "../errors.ts";

/** Labels suggested in messages; any label TextDecoder knows is accepted. */
export const ENCODING_EXAMPLES = "utf-8, utf-16le, utf-16be, windows-1252, latin1, iso-8859-15";

const WINDOWS_HINT =
  "Excel's CSV export on Windows is Windows-1252: pass --encoding windows-1252 " +
  '(or save as "CSV UTF-8" in Excel)';

/**
 * The canonical name of an encoding label, or a usage error naming the flag. `latin1` and
 * `iso-8859-1` are Windows-1252 (as in every browser: the WHATWG Encoding standard), so the
 * curly quotes and dashes of Windows exports decode as such, not as C1 control characters.
 */
export function checkEncoding(label: string): string {
  try {
    return new TextDecoder(label.trim()).encoding;
  } catch {
    throw new UsageError(
      `--encoding ${JSON.stringify(label)}: unknown encoding`,
      `use one of ${ENCODING_EXAMPLES}, or another WHATWG encoding label`,
    );
  }
}

/** The encoding a byte-order mark announces, and the mark's length; undefined without one. */
export function bomEncoding(b: Uint8Array): { encoding: string; length: number } | undefined {
  if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) return { encoding: "utf-8", length: 3 };
  if (b[0] === 0xff && b[1] === 0xfe) return { encoding: "utf-16le", length: 2 };
  if (b[0] === 0xfe && b[1] === 0xff) return { encoding: "utf-16be", length: 2 };
  return undefined;
}

/**
 * A streaming decoder for one input. `decode` takes consecutive byte chunks (`stream` false
 * for the last) and returns their text; `linesBefore` is the count of newlines already
 * returned, for the line number in errors.
 */
export class InputDecoder {
  readonly encoding: string;
  #decoder: TextDecoder;
  /** UTF-8 only: the bytes of an incomplete sequence the decoder holds from the last chunk. */
  #held = new Uint8Array(0);
  #utf8: boolean;

  constructor(readonly name: string, encoding: string) {
    this.encoding = encoding;
    this.#utf8 = encoding === "utf-8";
    this.#decoder = new TextDecoder(encoding, { fatal: true, ignoreBOM: false });
  }

  decode(bytes: Uint8Array, linesBefore: number, stream: boolean): string {
    let text: string;
    try {
      text = this.#decoder.decode(bytes, { stream });
    } catch {
      throw this.#utf8 ? this.#utf8Error(bytes, linesBefore) : this.#otherError(bytes, linesBefore);
    }
    if (this.#utf8) {
      this.#held = stream ? bytes.slice(bytes.length - incompleteTail(bytes)) : new Uint8Array(0);
    }
    const nul = text.indexOf("\0");
    if (nul >= 0) throw nulError(this.name, text, nul, linesBefore);
    return text;
  }

  #utf8Error(bytes: Uint8Array, linesBefore: number): UsageError {
    // Locate the bad byte in what the decoder saw: the held-over bytes, then this chunk.
    const held = this.#held;
    const seen = held.length > 0 ? concat(held, bytes) : bytes;
    const at = firstInvalidUtf8(seen);
    const line = linesBefore + countNewlinesBytes(seen, at) + 1;
    return new UsageError(
      `${this.name}: line ${line}: not valid UTF-8 (byte 0x${
        (seen[at] ?? 0).toString(16).padStart(2, "0")
      })`,
      WINDOWS_HINT,
    );
  }

  #otherError(bytes: Uint8Array, linesBefore: number): UsageError {
    // Errors are rare: decode the chunk again leniently and find the replacement character.
    const loose = new TextDecoder(this.encoding).decode(bytes);
    const at = loose.indexOf("\uFFFD");
    const line = linesBefore + countNewlines(loose.slice(0, Math.max(0, at))) + 1;
    return new UsageError(
      `${this.name}: line ${line}: not valid ${this.encoding}`,
      `check --encoding (${ENCODING_EXAMPLES})`,
    );
  }
}

function nulError(name: string, text: string, nul: number, linesBefore: number): UsageError {
  if (linesBefore === 0 && nul <= 1) {
    // ASCII text in UTF-16 without a byte-order mark: every other byte is 0.
    const le = text[1] === "\0" && text[3] === "\0" && text[0] !== "\0";
    const be = text[0] === "\0" && text[2] === "\0" && text[1] !== "\0";
    if (le || be) {
      return new UsageError(
        `${name}: line 1: looks like UTF-16 text without a byte-order mark`,
        `pass --encoding ${le ? "utf-16le" : "utf-16be"}`,
      );
    }
  }
  const line = linesBefore + countNewlines(text.slice(0, nul)) + 1;
  return new UsageError(
    `${name}: line ${line}: contains a NUL byte; this looks like binary data, not CSV or NDJSON`,
    "check that the file is a text export",
  );
}

export function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Counts `\n` in a string. */
export function countNewlines(text: string): number {
  let n = 0;
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) n++;
  return n;
}

function countNewlinesBytes(bytes: Uint8Array, end: number): number {
  let n = 0;
  for (let i = 0; i < end; i++) if (bytes[i] === 0x0a) n++;
  return n;
}

/** How many trailing bytes form an incomplete (so far valid) UTF-8 sequence. */
export function incompleteTail(b: Uint8Array): number {
  for (let k = 1; k <= 3 && k <= b.length; k++) {
    const c = b[b.length - k]!;
    if ((c & 0xc0) === 0x80) continue; // continuation byte: look further back
    const need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    return need > k ? k : 0;
  }
  return 0;
}

/**
 * Index of the first byte that breaks UTF-8 (a truncated final sequence counts), by the
 * same rules as TextDecoder: no overlong forms, no surrogates, nothing past U+10FFFF.
 */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need = 0;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0;
      if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90;
      if (c === 0xf4) hi = 0x8f;
    } else return i;
    if (i + need >= b.length) return i;
    for (let k = 1; k <= need; k++) {
      const cc = b[i + k]!;
      const min = k === 1 ? lo : 0x80;
      const max = k === 1 ? hi : 0xbf;
      if (cc < min || cc > max) return i;
    }
    i += need + 1;
  }
  return Math.max(0, b.length - 1);
}
