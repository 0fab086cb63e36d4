/**
 * Opening inputs: files or stdin, gzip by magic bytes, strict UTF-8 decoding with the
 * failing line named, BOM removal, and the choice between CSV and NDJSON.
 */
import { UsageError } from "../errors.ts";

export type Format = "csv" | "ndjson";

/** One decoded piece of one input. */
export interface TextChunk {
  source: string;
  text: string;
  /** Bytes of the input consumed so far (compressed bytes for .gz), for progress. */
  bytesRead: number;
  /** The final chunk of this input (its text may be empty). */
  last: boolean;
}

/** An input as the user named it. `-` is stdin. */
export interface InputSource {
  name: string;
  path: string | undefined;
  size: number | undefined;
}

/**
 * Bytes decoded and parsed at a time. Small chunks keep what one chunk's parse leaves alive
 * out of V8's old generation: on the 1M-row benchmark file 64 KiB chunks read about twice
 * as fast as 1 MiB ones, at a third of the peak RSS (README, benchmarks).
 */
export const READ_SIZE = 1 << 16;

/** Resolves input arguments; none means stdin. Unreadable files are a usage error. */
export async function resolveInputs(args: readonly string[]): Promise<InputSource[]> {
  const list = args.length === 0 ? ["-"] : args;
  const out: InputSource[] = [];
  for (const arg of list) {
    if (arg === "-") {
      out.push({ name: "<stdin>", path: undefined, size: undefined });
      continue;
    }
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(arg);
    } catch (e) {
      throw new UsageError(`cannot read ${arg}: ${describeFsError(e)}`, "check the path");
    }
    if (!info.isFile) throw new UsageError(`cannot read ${arg}: not a file`, "check the path");
    try {
      (await Deno.open(arg, { read: true })).close(); // readable now, not after the first request
    } catch (e) {
      throw new UsageError(`cannot read ${arg}: ${describeFsError(e)}`, "check the path");
    }
    out.push({ name: arg, path: arg, size: info.size });
  }
  if (out.filter((s) => s.path === undefined).length > 1) {
    throw new UsageError("stdin (-) is named more than once", "name it once");
  }
  return out;
}

export function describeFsError(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return "no such file";
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (e instanceof Deno.errors.IsADirectory) return "is a directory";
  if (e instanceof Deno.errors.NotADirectory) return "a part of the path is not a directory";
  return e instanceof Error ? e.message : String(e);
}

/** The format implied by a file name, or undefined when the name does not say. */
export function formatFromName(name: string): Format | undefined {
  const base = name.toLowerCase().replace(/\.gz$/, "");
  if (base.endsWith(".csv") || base.endsWith(".tsv") || base.endsWith(".txt")) return "csv";
  if (base.endsWith(".ndjson") || base.endsWith(".jsonl") || base.endsWith(".json")) {
    return "ndjson";
  }
  return undefined;
}

/** Sniffs the format from the first text: a first non-blank `{` means NDJSON. */
export function sniffFormat(text: string): Format {
  const m = /\S/.exec(text);
  return m && m[0] === "{" ? "ndjson" : "csv";
}

/** Reads one input as decoded text chunks. Invalid UTF-8 or NUL bytes stop with exit 2. */
export async function* readText(
  src: InputSource,
  stdin: ReadableStream<Uint8Array> = Deno.stdin.readable,
): AsyncGenerator<TextChunk> {
  let stream: ReadableStream<Uint8Array>;
  let file: Deno.FsFile | undefined;
  if (src.path === undefined) {
    stream = stdin;
  } else {
    try {
      file = await Deno.open(src.path, { read: true });
    } catch (e) {
      throw new UsageError(`cannot read ${src.name}: ${describeFsError(e)}`, "check the path");
    }
    stream = file.readable;
  }
  let bytesRead = 0;
  const counted = stream.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        bytesRead += chunk.byteLength;
        controller.enqueue(chunk);
      },
    }),
  );
  const reader = counted.getReader();
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  let lines = 0;
  let first = true;
  let gunzip: ReadableStreamDefaultReader<Uint8Array> | undefined;
  try {
    let pending: Uint8Array | undefined;
    const next = async (): Promise<Uint8Array | undefined> => {
      if (gunzip) {
        const r = await gunzip.read();
        return r.done ? undefined : r.value;
      }
      if (pending) {
        const p = pending;
        pending = undefined;
        return p;
      }
      const r = await reader.read();
      return r.done ? undefined : r.value;
    };
    let firstRead = await reader.read();
    // A pipe may deliver a single byte first; the gzip check needs two.
    while (!firstRead.done && firstRead.value.length < 2) {
      const more = await reader.read();
      if (more.done) break;
      firstRead = { done: false, value: concat(firstRead.value, more.value) };
    }
    if (
      !firstRead.done && firstRead.value.length >= 2 && firstRead.value[0] === 0x1f &&
      firstRead.value[1] === 0x8b
    ) {
      // gzip: re-feed the first chunk, then the rest, through a DecompressionStream.
      const rest = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(firstRead.value);
        },
        async pull(c) {
          const r = await reader.read();
          if (r.done) c.close();
          else c.enqueue(r.value);
        },
      });
      gunzip = rest.pipeThrough(
        new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
      ).getReader();
    } else if (!firstRead.done) {
      pending = firstRead.value;
    }
    // Small stdin/gzip pieces are coalesced into chunks of about READ_SIZE.
    let pieces: Uint8Array[] = [];
    let pieceBytes = 0;
    // The bytes of an incomplete UTF-8 sequence the decoder holds from the previous chunk.
    let held = new Uint8Array(0);
    const decode = (stream: boolean): string => {
      const bytes = pieces.length === 1 ? pieces[0]! : concatAll(pieces, pieceBytes);
      pieces = [];
      pieceBytes = 0;
      const text = decodeChunk(decoder, held, bytes, src.name, lines, stream);
      held = stream ? bytes.slice(bytes.length - incompleteTail(bytes)) : new Uint8Array(0);
      lines += countNewlines(text);
      return text;
    };
    while (true) {
      let bytes: Uint8Array | undefined;
      try {
        bytes = await next();
      } catch (e) {
        throw new UsageError(
          `${src.name}: line ${lines + 1}: cannot decompress: ${
            e instanceof Error ? e.message : String(e)
          }`,
          "check that the file is a complete gzip file",
        );
      }
      if (bytes === undefined) break;
      pieces.push(bytes);
      pieceBytes += bytes.length;
      if (pieceBytes < READ_SIZE) continue;
      const text = decode(true);
      yield { source: src.name, text: first ? stripBom(text) : text, bytesRead, last: false };
      first = false;
    }
    const tail = decode(false);
    yield { source: src.name, text: first ? stripBom(tail) : tail, bytesRead, last: true };
  } finally {
    reader.releaseLock();
    try {
      file?.close();
    } catch {
      // already closed by the stream
    }
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function concatAll(parts: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
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

function decodeChunk(
  decoder: TextDecoder,
  held: Uint8Array,
  bytes: Uint8Array,
  name: string,
  linesBefore: number,
  stream: boolean,
): string {
  let text: string;
  try {
    text = decoder.decode(bytes, { stream });
  } catch {
    // Locate the bad byte in what the decoder saw: the held-over bytes, then this chunk.
    const seen = held.length > 0 ? concat(held, bytes) : bytes;
    if (
      linesBefore === 0 && held.length === 0 &&
      ((seen[0] === 0xff && seen[1] === 0xfe) || (seen[0] === 0xfe && seen[1] === 0xff))
    ) {
      throw new UsageError(
        `${name}: line 1: UTF-16 text, not UTF-8`,
        "save the file as UTF-8 (e.g. iconv -f utf-16 -t utf-8 in > out)",
      );
    }
    const at = firstInvalidUtf8(seen);
    const line = linesBefore + countNewlinesBytes(seen, at) + 1;
    throw new UsageError(
      `${name}: line ${line}: not valid UTF-8 (byte 0x${
        (seen[at] ?? 0).toString(16).padStart(2, "0")
      })`,
      "save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8 in > out)",
    );
  }
  const nul = text.indexOf("\0");
  if (nul >= 0) {
    const line = linesBefore + countNewlines(text.slice(0, nul)) + 1;
    throw new UsageError(
      `${name}: line ${line}: contains a NUL byte; this looks like binary data, not CSV or NDJSON`,
      "check that the file is a text export",
    );
  }
  return text;
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
