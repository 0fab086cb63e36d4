/**
 * Checkpoints for the protocol front ends: a state message may leave the process only once
 * every record that arrived before it is committed (Smartlead's 2xx recorded in the index)
 * or classified (rejected, unchanged, a duplicate). Each state is held with the number of
 * records read before it, and released, in arrival order, when push's `onCommitted` reports
 * that many rows done.
 */

/** States waiting for their records, released in order. */
export class Checkpoints {
  #queue: Array<{ after: number; emit: () => void }> = [];
  #done = 0;
  /** States released so far. */
  released = 0;

  /**
   * Holds a state that arrived after `rowsBefore` records; released at once when those
   * are all done already (and every earlier state is out).
   */
  add(rowsBefore: number, emit: () => void): void {
    this.#queue.push({ after: rowsBefore, emit });
    this.#release();
  }

  /** Every row with ordinal < `rowsDone` is committed or classified. */
  committed(rowsDone: number): void {
    if (rowsDone > this.#done) this.#done = rowsDone;
    this.#release();
  }

  /** States still held. */
  get pending(): number {
    return this.#queue.length;
  }

  #release(): void {
    while (this.#queue.length > 0 && this.#queue[0]!.after <= this.#done) {
      const next = this.#queue.shift()!;
      this.released++;
      next.emit();
    }
  }
}

/**
 * Which stream each record ordinal came from, kept as runs (records of one stream usually
 * arrive together), for naming a rejected record by its stream and position.
 */
export class OrdinalStreams {
  #starts: number[] = [];
  #streams: string[] = [];
  #perStream = new Map<string, number>();
  #count = 0;

  /** Notes the next record (ordinal = the count so far) as coming from `stream`. */
  add(stream: string): number {
    const ordinal = this.#count++;
    if (this.#streams[this.#streams.length - 1] !== stream) {
      this.#starts.push(ordinal);
      this.#streams.push(stream);
    }
    this.#perStream.set(stream, (this.#perStream.get(stream) ?? 0) + 1);
    return ordinal;
  }

  /** Records noted so far. */
  get count(): number {
    return this.#count;
  }

  /** Records per stream. */
  get perStream(): ReadonlyMap<string, number> {
    return this.#perStream;
  }

  /** The stream of `ordinal` (binary search over the runs). */
  streamOf(ordinal: number): string | undefined {
    let lo = 0, hi = this.#starts.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.#starts[mid]! <= ordinal) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 || ordinal >= this.#count ? undefined : this.#streams[found];
  }
}
