/**
 * The engine's read loop: row batches → mapper per header → valid leads to the planner,
 * rejects to a callback, with no per-row object on the common path (a flat CSV row is a
 * range of one array; the mapper writes into one reused `MapOut`).
 *
 * After each input batch `between` runs: the place where a front end takes the planner's
 * ready batches and waits for send capacity (backpressure, so memory stays flat), flushes
 * batches by age, draws progress and checks for a stop request.
 */
import type { Row } from "../input/row.ts";
import { csvHeaders } from "../input/row.ts";
import { rowObject } from "../pipeline/validate.ts";
import type { Reject } from "../pipeline/rejects.ts";
import { MapOut } from "./mapper.ts";
import type { Mappers } from "./mappers.ts";
import type { LeadInput } from "./planner.ts";
import type { RowBatch } from "./worker_rows.ts";

export interface FlowStats {
  /** Data rows read (headers aside). */
  rows: number;
  valid: number;
  rejected: number;
  /**
   * Set when the planner's table hit its memory cap: the row with this ordinal and every
   * later one were not planned (the caller falls back to on-disk staging for them).
   */
  overflowAt: number | undefined;
}

/** Where valid leads go (the `Planner`, or the engine's router in front of it). */
export interface LeadSink {
  /** False when the lead cannot be taken (the table is full): the flow stops there. */
  add(lead: LeadInput, source: string, line: number, ordinal: number): boolean;
  /** An email present on a row rejected for another reason; false as for `add`. */
  keep(email: string): boolean;
}

export interface FlowOptions {
  mappers: Mappers;
  planner: LeadSink;
  /**
   * Called with the emails of each input batch (valid rows' and kept rows') before any of
   * them reaches the planner: the place to look them up in the index when it is not loaded
   * whole. Costs a second mapping pass over the batch.
   */
  prepare?: (emails: string[]) => void;
  /**
   * A rejected row (the rejects file); rare, so it may allocate. `raw`: the text of a line
   * that could not be parsed (invalid JSON), for the rejects file's `raw`.
   */
  reject: (r: Reject, raw?: string) => void;
  /** After each input batch (see the module comment). */
  between?: (stats: FlowStats, batch: RowBatch) => void | Promise<void>;
}

/**
 * Plans every row; returns the counts when the input ends (or the table is full). `stats`
 * is counted into as rows pass (a caller keeps it to know how far a failed read got).
 */
export async function planRows(
  batches: AsyncIterable<RowBatch>,
  o: FlowOptions,
  stats: FlowStats = { rows: 0, valid: 0, rejected: 0, overflowAt: undefined },
): Promise<FlowStats> {
  const out = new MapOut();
  const { planner, mappers } = o;
  /** False when the table is full (a kept email must not be lost: it would look absent). */
  const rejectRow = (row: Row, reason: string, email: string | undefined): boolean => {
    if (email !== undefined && !planner.keep(email)) return false;
    stats.rejected++;
    o.reject({ source: row.source, line: row.line, reason, row: rowObject(row) }, row.raw);
    return true;
  };
  const overflow = (ordinal: number) => {
    stats.overflowAt = ordinal;
    return stats;
  };
  for await (const b of batches) {
    if (b.header !== undefined) mappers.csv(b.header, b.source, b.headerLine);
    if (o.prepare !== undefined) o.prepare(emailsOf(b, mappers, out));
    if (b.rows === undefined) {
      // Flat CSV rows: one header, values in one array.
      const mapper = b.counts.length > 0 ? mappers.csv(b.columns, b.source, 0) : undefined;
      for (let i = 0; i < b.counts.length; i++) {
        const ordinal = ++stats.rows;
        const at = b.starts[i]!;
        const n = b.counts[i]!;
        const p = b.problemAt[i]!;
        const row = () => ({
          source: b.source,
          line: b.lines[i]!,
          columns: b.columns,
          values: b.fields.slice(at, at + n),
          ...(p >= 0 && b.extras[p] ? { extra: b.extras[p] } : {}),
        });
        if (p >= 0) rejectRow(row(), b.problems[p]!, undefined);
        else if (mapper!.map(b.fields, at, n, out)) {
          if (!planner.add(out, b.source, b.lines[i]!, ordinal)) return overflow(ordinal);
          stats.valid++;
        } else if (!rejectRow(row(), out.reason, out.rejectEmail)) return overflow(ordinal);
      }
    } else {
      for (const r of b.rows) {
        const ordinal = ++stats.rows;
        if (r.problem !== undefined) {
          rejectRow(r, r.problem, undefined);
          continue;
        }
        const mapper = csvHeaders.has(r.columns)
          ? mappers.csv(r.columns, r.source, r.line)
          : mappers.keys(r.columns, r.source);
        if (mapper.map(r.values, 0, r.values.length, out)) {
          if (!planner.add(out, r.source, r.line, ordinal)) return overflow(ordinal);
          stats.valid++;
        } else if (!rejectRow(r, out.reason, out.rejectEmail)) return overflow(ordinal);
      }
    }
    await o.between?.(stats, b);
  }
  return stats;
}

/** The emails a batch's rows carry (valid leads, and rows rejected with a valid email). */
function emailsOf(b: RowBatch, mappers: Mappers, out: MapOut): string[] {
  const emails: string[] = [];
  const take = (ok: boolean) => {
    if (ok) emails.push(out.email);
    else if (out.rejectEmail !== undefined) emails.push(out.rejectEmail);
  };
  if (b.rows === undefined) {
    if (b.counts.length === 0) return emails;
    const mapper = mappers.csv(b.columns, b.source, 0);
    for (let i = 0; i < b.counts.length; i++) {
      if (b.problemAt[i]! < 0) take(mapper.map(b.fields, b.starts[i]!, b.counts[i]!, out));
    }
  } else {
    for (const r of b.rows) {
      if (r.problem !== undefined) continue;
      const mapper = csvHeaders.has(r.columns)
        ? mappers.csv(r.columns, r.source, r.line)
        : mappers.keys(r.columns, r.source);
      take(mapper.map(r.values, 0, r.values.length, out));
    }
  }
  return emails;
}
