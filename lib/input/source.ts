/**
 * Opening inputs: files, named pipes or stdin; gzip by magic bytes (multi-member too, in
 * bounded pieces); decoding (lib/input/decode.ts); the choice between CSV, NDJSON and JSON.
 */
import zlib from "node:zlib";
import { UsageError } from "../errors.ts";
import { bomEncoding, concat, countNewlines, InputDecoder } from "./decode.ts";

export { countNewlines, firstInvalidUtf8, incompleteTail } from "./decode.ts";

/** `json` is a JSON array of objects; `ndjson` one object per line. */
export type Format = "csv" | "ndjson" | "json";

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
  /** Undefined for stdin and named pipes. */
  size: number | undefined;
  /** stdin read because no input was named at all (a forgotten file name in cron). */
  implicit?: true;
}

/**
 * Bytes decoded and parsed at a time. Small chunks keep what one chunk's parse leaves alive
 * out of V8's old generation: on the 1M-row benchmark file 64 KiB chunks read about twice
 * as fast as 1 MiB ones, at a third of the peak RSS (README, benchmarks).
 */
export const READ_SIZE = 1 << 16;
const GUNZIP_PIECE = 64 * 1024;
const GUNZIP_FEED = 16 * 1024;

/** Resolves input arguments; none means stdin. Unreadable files are a usage error. */
export async function resolveInputs(args: readonly string[]): Promise<InputSource[]> {
  const list = args.length === 0 ? ["-"] : args;
  const out: InputSource[] = [];
  for (const arg of list) {
    if (arg === "-") {
      out.push({
        name: "<stdin>",
        path: undefined,
        size: undefined,
        ...(args.length === 0 ? { implicit: true as const } : {}),
      });
      continue;
    }
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(arg);
    } catch (e) {
      throw new UsageError(`cannot read ${arg}: ${describeFsError(e)}`, "check the path");
    }
    // A named pipe (mkfifo, or `push <(psql ...)`, which passes /dev/fd/N) streams like stdin;
    // it is not opened here (that would wait for its writer).
    if (info.isFifo) {
      out.push({ name: arg, path: arg, size: undefined });
      continue;
    }
    if (!info.isFile) {
      throw new UsageError(
        `cannot read ${arg}: ${
          info.isDirectory ? "is a directory" : "not a regular file or a named pipe"
        }`,
        "check the path",
      );
    }
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

/**
 * The format implied by a file name, or undefined when the name does not say. A `.json`
 * file is sniffed between a JSON array and NDJSON (see `sniffFormat`).
 */
export function formatFromName(name: string): Format | undefined {
  const base = name.toLowerCase().replace(/\.gz$/, "");
  if (base.endsWith(".csv") || base.endsWith(".tsv") || base.endsWith(".txt")) return "csv";
  if (base.endsWith(".ndjson") || base.endsWith(".jsonl")) return "ndjson";
  return undefined;
}

/**
 * Sniffs the format from the first text: a first non-blank `[` is a JSON array, `{` NDJSON,
 * anything else CSV (for a `.json` name, NDJSON: its parser names what is wrong).
 */
export function sniffFormat(text: string, name = ""): Format {
  const m = /\S/.exec(text);
  if (m && m[0] === "[") return "json";
  if (m && m[0] === "{") return "ndjson";
  return /\.json(\.gz)?$/i.test(name) ? "ndjson" : "csv";
}

export interface ReadOptions {
  /** A TextDecoder label (see `checkEncoding`); a byte-order mark wins over it. */
  encoding?: string;
  /**
   * For a live stream (the protocol front ends' records): when no more bytes arrive for this
   * long, what has arrived is handed on instead of waiting for a full chunk, so that a slow
   * source's records are planned (and its checkpoints released) without waiting for more.
   */
  idleFlushMs?: number;
}

/**
 * Reads one input as decoded text chunks of about 1 MB. Undecodable bytes, NUL bytes or a
 * damaged gzip stream stop with exit 2, naming the line.
 */
export async function* readText(
  src: InputSource,
  stdin: ReadableStream<Uint8Array> = Deno.stdin.readable,
  opts: ReadOptions = {},
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
  const reader = stream.getReader();
  let bytesRead = 0;
  const raw = async function* (first: Uint8Array | undefined): AsyncGenerator<Uint8Array> {
    if (first) yield first;
    while (true) {
      const r = await reader.read();
      if (r.done) return;
      bytesRead += r.value.byteLength;
      yield r.value;
    }
  };
  let gzipped = false;
  let decoder: InputDecoder | undefined;
  let lines = 0;
  let outBytes = 0;
  try {
    let first = await reader.read();
    if (!first.done) bytesRead += first.value.byteLength;
    // A pipe may deliver a single byte first; the gzip check needs two.
    while (!first.done && first.value.length < 2) {
      const more = await reader.read();
      if (more.done) break;
      bytesRead += more.value.byteLength;
      first = { done: false, value: concat(first.value, more.value) };
    }
    const head = first.done ? undefined : first.value;
    gzipped = head !== undefined && head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
    const pieces = gzipped ? gunzip(raw(head)) : raw(head);
    // Pieces are coalesced into chunks of about READ_SIZE, and split when larger.
    let parts: Uint8Array[] = [];
    let partBytes = 0;
    const decode = (stream: boolean): string => {
      const bytes = parts.length === 1 ? parts[0]! : concatAll(parts, partBytes);
      parts = [];
      partBytes = 0;
      if (!decoder) {
        const bom = bomEncoding(bytes);
        decoder = new InputDecoder(src.name, bom?.encoding ?? opts.encoding ?? "utf-8");
      }
      const text = decoder.decode(bytes, lines, stream);
      lines += countNewlines(text);
      return text;
    };
    let firstChunk = true;
    let next: Promise<IteratorResult<Uint8Array>> | undefined;
    while (true) {
      let bytes: Uint8Array | undefined;
      try {
        next ??= pieces.next();
        if (opts.idleFlushMs !== undefined && partBytes > 0) {
          // Bytes are waiting and the source is quiet: hand them on, then keep waiting.
          let timer: ReturnType<typeof setTimeout> | undefined;
          const idle = new Promise<"idle">((resolve) => {
            timer = setTimeout(() => resolve("idle"), opts.idleFlushMs);
          });
          const won = await Promise.race([next, idle]).finally(() => clearTimeout(timer));
          if (won === "idle") {
            const text = decode(true);
            yield {
              source: src.name,
              text: firstChunk ? stripBom(text) : text,
              bytesRead,
              last: false,
            };
            firstChunk = false;
            continue;
          }
        }
        const r = await next;
        next = undefined;
        bytes = r.done ? undefined : r.value;
      } catch (e) {
        if (!gzipped) throw e;
        // Count the lines of what was decompressed before the damage, for the message.
        if (partBytes > 0) {
          try {
            decode(true);
          } catch {
            // the decoding error is secondary here
          }
        }
        throw new UsageError(
          `${src.name}: line ${
            lines + 1
          }: the gzip data ends early or is damaged, after ${bytesRead} ` +
            `compressed bytes (${outBytes} bytes decompressed): ${
              e instanceof Error ? e.message : String(e)
            }`,
          "check that the file is complete (gzip -t); a download or copy may have been cut short",
        );
      }
      if (bytes === undefined) break;
      outBytes += bytes.byteLength;
      for (let off = 0; off < bytes.length; off += READ_SIZE) {
        const piece = bytes.length <= READ_SIZE ? bytes : bytes.subarray(off, off + READ_SIZE);
        parts.push(piece);
        partBytes += piece.length;
        if (partBytes < READ_SIZE) continue;
        const text = decode(true);
        yield {
          source: src.name,
          text: firstChunk ? stripBom(text) : text,
          bytesRead,
          last: false,
        };
        firstChunk = false;
      }
    }
    const tail = decode(false);
    yield { source: src.name, text: firstChunk ? stripBom(tail) : tail, bytesRead, last: true };
  } finally {
    reader.releaseLock();
    try {
      file?.close();
    } catch {
      // already closed by the stream
    }
  }
}

/**
 * Decompresses gzip across members (`cat a.gz b.gz`, `gzip >>` and bgzip files are one
 * input). The input is fed in pieces of GUNZIP_FEED bytes and each piece's output (at most
 * ~1,000 times its size, in pieces of GUNZIP_PIECE) is handed on before the next is fed, so a
 * gzip bomb streams with flat memory; everything decompressed before damage is handed on
 * before the error, so its message can name the line reached.
 */
async function* gunzip(input: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const g = zlib.createGunzip({ chunkSize: GUNZIP_PIECE });
  const out: Uint8Array[] = [];
  let failure: unknown;
  g.on("data", (piece: Uint8Array) => out.push(piece));
  g.on("error", (e: unknown) => failure ??= e);
  const ended = new Promise<void>((resolve) => {
    g.on("end", () => resolve());
    g.on("close", () => resolve());
  });
  const write = (b: Uint8Array) => new Promise<void>((resolve) => g.write(b, () => resolve()));
  try {
    for await (const chunk of input) {
      for (let off = 0; off < chunk.length; off += GUNZIP_FEED) {
        await write(chunk.length <= GUNZIP_FEED ? chunk : chunk.subarray(off, off + GUNZIP_FEED));
        while (out.length > 0) yield out.shift()!;
        if (failure !== undefined) throw failure;
      }
    }
    g.end();
    await ended;
    while (out.length > 0) yield out.shift()!;
    if (failure !== undefined) throw failure;
  } finally {
    g.destroy();
  }
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
