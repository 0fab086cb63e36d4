/**
 * The index's state per email (payload hash, status, lead-id presence) into a fingerprint
 * table, in bulk: no statement per input row.
 *
 * Two ways, both read-only against the current schema (`leads(email primary key, hash,
 * lead_id, status, ...)`, lib/index/store.ts):
 *   - `loadIndex`: the whole index, in keyset pages of `group_concat` text (one statement
 *     call and one string per page of `pageRows` leads, walked without splitting), for
 *     inputs that are not much smaller than the index;
 *   - `lookupEmails`: only the given emails, one statement per window of emails
 *     (`json_each`), for an input much smaller than the index (10M indexed leads, a 10k-row
 *     file).
 * Both leave the table's value (the planner's row ordinal) at 0 and set the flag bits of
 * `flags.ts`. Two indexed emails with one fingerprint (about n²/2^65: 3·10⁻⁶ at 10M) are
 * counted in `collisions`; the later one's state wins.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { emailFingerprint, parseHashHex } from "./fingerprint.ts";
import { type FingerprintTable, FULL } from "./fingerprint_table.ts";
import { HAS_LEAD_ID, STATUS_MASK, statusBits } from "./flags.ts";

/** The code character after the hash: status, upper case when the lead id is known. */
const CODE_FLAGS: Record<string, number> = {
  s: statusBits("synced"),
  S: statusBits("synced") | HAS_LEAD_ID,
  r: statusBits("rejected"),
  R: statusBits("rejected") | HAS_LEAD_ID,
  p: statusBits("pending"),
  P: statusBits("pending") | HAS_LEAD_ID,
};

/**
 * A page: per lead `<16 hex hash><code><email>`, joined by newlines (an indexed email passed
 * the lead schema: no whitespace), so a line is parsed by position. A hash of another width
 * (not written by this tool) is padded or cut to 16 characters: the lead then looks
 * changed, never unchanged.
 */
const PAGE_SQL = `select group_concat(line, char(10)) as page, max(email) as last, count(*) as n
  from (select email, substr(hash || '0000000000000000', 1, 16) ||
      (case when lead_id is null then lower(s) else s end) || email as line
    from (select email, hash, lead_id,
        case status when 'synced' then 'S' when 'rejected' then 'R' else 'P' end as s
      from leads where email > ? order by email limit ?))`;

export interface LoadStats {
  leads: number;
  pages: number;
  collisions: number;
  /** Hashes that were not 16 hex digits (the lead will look changed). */
  badHashes: number;
  /** True when the table refused a lead for its memory cap: the load is incomplete. */
  full: boolean;
}

/** Adds one indexed lead to the table. Returns false when the table is full. */
export function putIndexed(
  table: FingerprintTable,
  fp: Uint32Array,
  hash: Uint32Array,
  flags: number,
): boolean {
  const slot = table.insert(fp[0]!, fp[1]!);
  if (slot === FULL) return false;
  table.setHash(slot, hash[0]!, hash[1]!);
  table.setFlags(slot, flags);
  return true;
}

/** Reads every indexed lead into `table`, `pageRows` at a time. */
export function loadIndex(
  db: DatabaseSync,
  table: FingerprintTable,
  opts: { pageRows?: number } = {},
): LoadStats {
  const pageRows = opts.pageRows ?? 16_384;
  const stmt = db.prepare(PAGE_SQL);
  const stats: LoadStats = { leads: 0, pages: 0, collisions: 0, badHashes: 0, full: false };
  const fp = new Uint32Array(2);
  const hash = new Uint32Array(2);
  let after = "";
  while (true) {
    const row = stmt.get(after, pageRows) as
      | { page: string | null; last: string | null; n: number }
      | undefined;
    if (row === undefined || row.page === null || row.last === null) break;
    stats.pages++;
    const page = row.page;
    let pos = 0;
    while (pos < page.length) {
      let end = page.indexOf("\n", pos);
      if (end < 0) end = page.length;
      if (!parseHashHex(page, pos, hash)) {
        hash.fill(0);
        stats.badHashes++;
      }
      const flags = CODE_FLAGS[page[pos + 16]!] ?? 0;
      emailFingerprint(page, fp, 0, pos + 17, end);
      const slot = table.insert(fp[0]!, fp[1]!);
      if (slot === FULL) {
        stats.full = true;
        return stats;
      }
      if (!table.inserted) stats.collisions++;
      table.setHash(slot, hash[0]!, hash[1]!);
      table.setFlags(slot, flags);
      stats.leads++;
      pos = end + 1;
    }
    after = row.last;
    if (Number(row.n) < pageRows) break;
  }
  return stats;
}

/**
 * Looks the given emails up in the index and puts those found into `table`; emails not
 * indexed are left out (the planner reads them as new). One statement per call.
 */
export class IndexLookup {
  #stmt: StatementSync;
  #fp = new Uint32Array(2);
  #hash = new Uint32Array(2);
  constructor(db: DatabaseSync) {
    this.#stmt = db.prepare(
      `select l.email, l.hash, l.status, l.lead_id is not null as has_id
       from json_each(?) j join leads l on l.email = j.value`,
    );
  }

  /**
   * Puts the index state of those of `emails` the index has into `table` (their status,
   * lead-id and hash; the planner's own bits are kept), and returns how many it had. An
   * email looked up again gets the state committed since, which is what the planner wants.
   * Returns -1 when the table is full.
   */
  lookup(emails: readonly string[], table: FingerprintTable): number {
    if (emails.length === 0) return 0;
    let n = 0;
    for (const r of this.#stmt.iterate(JSON.stringify(emails))) {
      const { email, hash, status, has_id } = r as {
        email: string;
        hash: string;
        status: string;
        has_id: number;
      };
      emailFingerprint(email, this.#fp);
      const slot = table.insert(this.#fp[0]!, this.#fp[1]!);
      if (slot === FULL) return -1;
      if (!parseHashHex(hash, 0, this.#hash)) this.#hash.fill(0);
      table.setHash(slot, this.#hash[0]!, this.#hash[1]!);
      const keep = table.flags(slot) & ~(STATUS_MASK | HAS_LEAD_ID);
      table.setFlags(slot, keep | statusBits(status) | (has_id ? HAS_LEAD_ID : 0));
      n++;
    }
    return n;
  }
}
