/**
 * An open-addressing hash table on typed arrays, keyed by a 64-bit fingerprint (two 32-bit
 * lanes), holding per key a 64-bit payload hash, a 32-bit value (the planner keeps the
 * ordinal of the last input row for the email there) and 8 flag bits.
 *
 * Why not a `Map<string, ...>`: a million distinct emails as strings plus per-entry objects
 * cost well over 100 MB and keep the garbage collector busy; here every entry is 21 bytes in
 * a few flat arrays (one `Uint32Array` with the five words of a slot side by side, so a
 * probe and the read that follows touch one cache line, plus a `Uint8Array` of flags).
 *
 * Linear probing; the home slot is `lo × capacity / 2^32` ("fastrange"), so the capacity
 * need not be a power of two and grows by 1.5× once the load passes 3/4 (the load then
 * stays between 1/2 and 3/4). Keys are never removed (the engine never needs to).
 *
 * Memory is capped (`maxBytes`): when growing would pass the cap, `insert` returns `FULL`
 * for a new key (existing keys are still found and updated), so that the caller can fall
 * back to on-disk staging instead of growing without bound. The key (0, 0) is reserved for
 * empty slots and is stored as (0, 1): a 2^-64 event merges those two fingerprints.
 */

/** Returned by `insert` when the key is new and the table may not grow. */
export const FULL = -1;
/** Returned by `find` when the key is absent. */
export const ABSENT = -1;

/** Words per slot in `#words`: key hi, key lo, hash hi, hash lo, value. */
const STRIDE = 5;
/** Bytes per slot, for the cap: five 32-bit words and a flag byte. */
export const BYTES_PER_SLOT = STRIDE * 4 + 1;
const MAX_LOAD = 0.75;
const GROWTH = 1.5;
const MIN_CAPACITY = 16;

export interface FingerprintTableOptions {
  /** Slots to start with (default 16); sized up so that `expected` keys fit without growing. */
  expected?: number;
  /** The most the arrays may take, in bytes (default: unbounded). */
  maxBytes?: number;
}

export class FingerprintTable {
  #words: Uint32Array;
  #flags: Uint8Array;
  #capacity: number;
  #size = 0;
  #limit: number;
  readonly maxBytes: number;
  /** Whether the last `insert` added the key (false: it was there already). */
  inserted = false;
  /** Set once an insert was refused for lack of room under `maxBytes`. */
  full = false;

  constructor(opts: FingerprintTableOptions = {}) {
    this.maxBytes = opts.maxBytes ?? Infinity;
    let cap = Math.max(MIN_CAPACITY, Math.ceil((opts.expected ?? 0) / MAX_LOAD) + 1);
    cap = Math.min(cap, Math.max(MIN_CAPACITY, Math.floor(this.maxBytes / BYTES_PER_SLOT)));
    this.#capacity = cap;
    this.#limit = Math.floor(cap * MAX_LOAD);
    this.#words = new Uint32Array(cap * STRIDE);
    this.#flags = new Uint8Array(cap);
  }

  /** Keys held. */
  get size(): number {
    return this.#size;
  }

  /** Slots allocated. */
  get capacity(): number {
    return this.#capacity;
  }

  /** Bytes the arrays take. */
  get bytes(): number {
    return this.#capacity * BYTES_PER_SLOT;
  }

  /** The slot holding the key, or `ABSENT`. A slot stays valid until the next `insert`. */
  find(hi: number, lo: number): number {
    hi >>>= 0;
    lo >>>= 0;
    if (hi === 0 && lo === 0) lo = 1;
    const w = this.#words;
    const cap = this.#capacity;
    let s = Math.floor(lo * cap / 4294967296);
    while (true) {
      const o = s * STRIDE;
      const klo = w[o + 1]!;
      const khi = w[o]!;
      if (klo === lo && khi === hi) return s;
      if (klo === 0 && khi === 0) return ABSENT;
      if (++s === cap) s = 0;
    }
  }

  /**
   * The slot of the key, added (hash, value and flags zero) when absent; `inserted` says
   * which. Returns `FULL` when the key is new and the table is at its load limit and may not
   * grow under `maxBytes`. May move every slot (when it grows): slots taken before are stale.
   */
  insert(hi: number, lo: number): number {
    hi >>>= 0;
    lo >>>= 0;
    if (hi === 0 && lo === 0) lo = 1;
    while (true) {
      const w = this.#words;
      const cap = this.#capacity;
      let s = Math.floor(lo * cap / 4294967296);
      while (true) {
        const o = s * STRIDE;
        const klo = w[o + 1]!;
        const khi = w[o]!;
        if (klo === lo && khi === hi) {
          this.inserted = false;
          return s;
        }
        if (klo === 0 && khi === 0) break;
        if (++s === cap) s = 0;
      }
      if (this.#size < this.#limit) {
        const o = s * STRIDE;
        w[o] = hi;
        w[o + 1] = lo;
        this.#size++;
        this.inserted = true;
        return s;
      }
      if (!this.#grow()) {
        this.full = true;
        this.inserted = false;
        return FULL;
      }
    }
  }

  hashHi(slot: number): number {
    return this.#words[slot * STRIDE + 2]!;
  }

  hashLo(slot: number): number {
    return this.#words[slot * STRIDE + 3]!;
  }

  setHash(slot: number, hi: number, lo: number): void {
    const o = slot * STRIDE;
    this.#words[o + 2] = hi;
    this.#words[o + 3] = lo;
  }

  /** Whether the slot's hash equals (hi, lo). */
  hashEquals(slot: number, hi: number, lo: number): boolean {
    const o = slot * STRIDE;
    return this.#words[o + 2] === hi >>> 0 && this.#words[o + 3] === lo >>> 0;
  }

  value(slot: number): number {
    return this.#words[slot * STRIDE + 4]!;
  }

  setValue(slot: number, v: number): void {
    this.#words[slot * STRIDE + 4] = v;
  }

  flags(slot: number): number {
    return this.#flags[slot]!;
  }

  setFlags(slot: number, f: number): void {
    this.#flags[slot] = f;
  }

  keyHi(slot: number): number {
    return this.#words[slot * STRIDE]!;
  }

  keyLo(slot: number): number {
    return this.#words[slot * STRIDE + 1]!;
  }

  /** Every occupied slot, in slot order (not stable across inserts). */
  *slots(): Generator<number> {
    const w = this.#words;
    for (let s = 0; s < this.#capacity; s++) {
      const o = s * STRIDE;
      if (w[o] !== 0 || w[o + 1] !== 0) yield s;
    }
  }

  /** Grows by `GROWTH` (at least one slot) if the cap allows; false if it does not. */
  #grow(): boolean {
    const want = Math.max(this.#capacity + 1, Math.ceil(this.#capacity * GROWTH));
    const most = Math.floor(this.maxBytes / BYTES_PER_SLOT);
    const cap = Math.min(want, most);
    if (cap <= this.#capacity || Math.floor(cap * MAX_LOAD) <= this.#size) return false;
    const oldWords = this.#words;
    const oldFlags = this.#flags;
    const oldCap = this.#capacity;
    const w = new Uint32Array(cap * STRIDE);
    const f = new Uint8Array(cap);
    for (let s = 0; s < oldCap; s++) {
      const o = s * STRIDE;
      const hi = oldWords[o]!;
      const lo = oldWords[o + 1]!;
      if (hi === 0 && lo === 0) continue;
      let t = Math.floor(lo * cap / 4294967296);
      while (w[t * STRIDE] !== 0 || w[t * STRIDE + 1] !== 0) if (++t === cap) t = 0;
      w.set(oldWords.subarray(o, o + STRIDE), t * STRIDE);
      f[t] = oldFlags[s]!;
    }
    this.#words = w;
    this.#flags = f;
    this.#capacity = cap;
    this.#limit = Math.floor(cap * MAX_LOAD);
    return true;
  }
}
