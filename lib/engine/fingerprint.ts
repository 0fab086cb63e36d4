/**
 * 64-bit fingerprints as two unsigned 32-bit lanes, for the engine's in-memory tables:
 * the key of a normalised email, and the payload hash of `lib/hash.ts` without its hex
 * string (`payloadHashLanes` gives exactly the lanes `payloadHash` prints).
 *
 * Functions write their result into a caller's `Uint32Array` (hi at `out[at]`, lo at
 * `out[at + 1]`) instead of returning an object: they run once or twice per input row.
 */

/** A two-lane scratch array, for callers that need one result at a time. */
export function lanes(): Uint32Array {
  return new Uint32Array(2);
}

/** murmur3's 32-bit finaliser: every input bit affects every output bit. */
function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The key of an email (already normalised: trimmed, lower-cased) for the fingerprint table:
 * two independent multiplicative lanes over the UTF-16 code units from `start` to `end`
 * (the same key as for `email.slice(start, end)`), each finalised, then cross-mixed so that
 * neither lane alone decides the slot.
 */
export function emailFingerprint(
  email: string,
  out: Uint32Array,
  at = 0,
  start = 0,
  end = email.length,
): void {
  let a = 0x811c9dc5 | 0;
  let b = 0x2545f491 | 0;
  const n = end;
  for (let i = start; i < n; i++) {
    const c = email.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 13;
  }
  a = fmix32(a ^ (n - start));
  b = fmix32(b + Math.imul(a, 0x27d4eb2f));
  out[at] = a;
  out[at + 1] = b;
}

/**
 * The two lanes of the payload hash (`payloadHash` in lib/hash.ts is `hashHex` of them):
 * the engine compares lanes and skips the hex form. The values must never change: the index
 * stores them, and a changed hash would make every synced lead look changed.
 */
export function payloadHashLanes(text: string, out: Uint32Array, at = 0): void {
  let h1 = 0x811c9dc5 | 0;
  let h2 = 0x9747b28c | 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 0x85ebca6b);
  h1 = Math.imul(h1 ^ (h1 >>> 13), 0xc2b2ae35) ^ (h1 >>> 16);
  out[at] = h1 >>> 0;
  out[at + 1] = h2 >>> 0;
}

const HEX: readonly string[] = Array.from(
  { length: 256 },
  (_, i) => i.toString(16).padStart(2, "0"),
);

function hex32(x: number): string {
  return HEX[x >>> 24]! + HEX[(x >>> 16) & 255]! + HEX[(x >>> 8) & 255]! + HEX[x & 255]!;
}

/** The 16 hex digits of a two-lane hash: the form the index stores. */
export function hashHex(hi: number, lo: number): string {
  return hex32(hi >>> 0) + hex32(lo >>> 0);
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48; // 0-9
  if (c >= 97 && c <= 102) return c - 87; // a-f
  if (c >= 65 && c <= 70) return c - 55; // A-F
  return -1;
}

/**
 * Parses 16 hex digits of `text` from `start` into `out[at]`, `out[at + 1]`. Returns false
 * (leaving `out` unspecified) when they are not 16 hex digits, e.g. a hash written by some
 * other tool: the caller then treats the lead as changed.
 */
export function parseHashHex(text: string, start: number, out: Uint32Array, at = 0): boolean {
  if (text.length < start + 16) return false;
  let hi = 0;
  let lo = 0;
  for (let i = 0; i < 8; i++) {
    const d = hexDigit(text.charCodeAt(start + i));
    const e = hexDigit(text.charCodeAt(start + 8 + i));
    if (d < 0 || e < 0) return false;
    hi = (hi << 4) | d;
    lo = (lo << 4) | e;
  }
  out[at] = hi >>> 0;
  out[at + 1] = lo >>> 0;
  return true;
}

/**
 * `payloadHash` computed piece by piece over a JSON text that is never built: the lanes of
 * `raw(a); str(b); raw(c)` equal those of `payloadHashLanes(a + JSON.stringify(b) + c)`.
 * The hash is a left-to-right fold over UTF-16 code units, so pieces can be fed in order.
 * `str` hashes `"` + s + `"` directly while no character needs escaping (no control
 * character, quote, backslash or surrogate: the common case); otherwise it rewinds and hashes
 * `JSON.stringify(s)`, so the bytes hashed are always exactly those `JSON.stringify` writes.
 */
export class PayloadHasher {
  h1 = 0;
  h2 = 0;

  reset(): void {
    this.h1 = 0x811c9dc5 | 0;
    this.h2 = 0x9747b28c | 0;
  }

  /** Feeds text as is (the JSON syntax between values: keys, braces, commas). */
  raw(text: string): void {
    let h1 = this.h1;
    let h2 = this.h2;
    const n = text.length;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995);
      h2 ^= h2 >>> 15;
    }
    this.h1 = h1;
    this.h2 = h2;
  }

  /** Feeds `JSON.stringify(s)` for a string `s`. */
  str(s: string): void {
    let h1 = Math.imul(this.h1 ^ 34, 0x01000193);
    let h2 = Math.imul(this.h2 ^ 34, 0x5bd1e995);
    h2 ^= h2 >>> 15;
    const n = s.length;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c === 34 || c === 92 || (c & 0xf800) === 0xd800) {
        this.raw(JSON.stringify(s));
        return;
      }
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995);
      h2 ^= h2 >>> 15;
    }
    h1 = Math.imul(h1 ^ 34, 0x01000193);
    h2 = Math.imul(h2 ^ 34, 0x5bd1e995);
    h2 ^= h2 >>> 15;
    this.h1 = h1;
    this.h2 = h2;
  }

  /** Writes the lanes (as `payloadHashLanes` would) into `out[at]`, `out[at + 1]`. */
  finish(out: Uint32Array, at = 0): void {
    let h1 = this.h1;
    h1 = Math.imul(h1 ^ (h1 >>> 16), 0x85ebca6b);
    h1 = Math.imul(h1 ^ (h1 >>> 13), 0xc2b2ae35) ^ (h1 >>> 16);
    out[at] = h1 >>> 0;
    out[at + 1] = this.h2 >>> 0;
  }
}
