/**
 * The on-disk index: one SQLite database (WAL) per Smartlead host and campaign, recording
 * per normalised email the hash of the payload Smartlead last accepted, the lead id when
 * known, timestamps and status. It never holds the API key.
 *
 * A run stages its valid rows in a temporary table (the later row for an email wins),
 * plans against the index with SQL, and commits each batch only after Smartlead's 2xx.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { UsageError } from "../errors.ts";
import { environmentError } from "../os_errors.ts";
import { openIndex } from "./open.ts";

export const SCHEMA_VERSION = 4;

export type LeadStatus = "synced" | "rejected" | "pending";

/**
 * Who put the lead in the campaign: `tool`, this tool's add-leads (the only leads
 * `--delete-missing` deletes by default), or `foreign`, someone else (found by
 * `verify --repair`, or already in the campaign when this tool first sent it).
 */
export type LeadOrigin = "tool" | "foreign";

/**
 * What this tool did to a lead that left the input without deleting it: `paused` (resumed
 * when it comes back) or `unsubscribed` (from the campaign; there is no way back through the
 * API). Null: neither. Leads paused or unsubscribed by someone else are not marked.
 */
export type LeadRemoval = "paused" | "unsubscribed";

/** What `--missing` does to synced leads absent from the input. */
export type MissingAction = "ignore" | "pause" | "unsubscribe" | "delete";

/** A staged row, as it will be sent. */
export interface StagedLead {
  email: string;
  hash: string;
  source: string;
  line: number;
  payload: string;
  leadId: number | null;
  /** The lead's status in the index before this run (null: not indexed); set by planned(). */
  indexed?: LeadStatus | null;
  /** The lead's origin in the index before this run; set by planned(). */
  origin?: LeadOrigin | null;
  /** The field set of the payload Smartlead last accepted for it (`fieldSetNames`). */
  fieldSet?: number | null;
}

/** What the index knows of one lead. */
export interface IndexedLead {
  email: string;
  hash: string;
  lead_id: number | null;
  status: LeadStatus;
  reason: string | null;
  first_synced_at: number | null;
  last_synced_at: number | null;
  origin: LeadOrigin;
  /** Paused or unsubscribed by this tool (null: neither). */
  removed: LeadRemoval | null;
}

/** Counts per plan category. */
export interface PlanCounts {
  add: number;
  update: number;
  unchanged: number;
  skippedRejected: number;
  delete: number;
  /** Leads `--missing pause|unsubscribe|delete` acts on (equal to `delete` for deletes). */
  remove: number;
  /** Leads this tool paused that are in the input again: resumed. */
  resume: number;
}

export type PlanKind = "add" | "update";

/** One lead's answer as `record()` commits it. */
export interface RecordedOutcome {
  email: string;
  hash: string;
  status: LeadStatus;
  leadId?: number | null;
  reason?: string | null;
  origin: LeadOrigin;
}

/** What a run needs of an indexed lead before sending it (see `leadStates`). */
export interface LeadState {
  leadId: number | null;
  status: LeadStatus;
  origin: LeadOrigin;
  /** The field set of the payload Smartlead last accepted (`fieldSetNames`). */
  fieldSet: number | null;
}

export const MIGRATIONS: string[] = [
  `create table if not exists meta(key text primary key, value text not null);
   create table if not exists leads(
     email text primary key,
     hash text not null,
     lead_id integer,
     status text not null check (status in ('synced','rejected','pending')),
     reason text,
     first_synced_at integer,
     last_synced_at integer,
     updated_at integer not null
   ) without rowid;
   create table if not exists runs(
     id integer primary key,
     started_at integer not null,
     finished_at integer,
     mode text not null,
     exit_code integer,
     summary text
   );`,
  // 2: who added each lead. Rows synced before this version were sent by this tool.
  `alter table leads add column origin text not null default 'tool'
     check (origin in ('tool','foreign'));`,
  // 3: which fields the last accepted payload had, so that a field emptied or dropped in the
  // source is sent as "" (cleared). Leads share a set: field_sets holds each distinct list
  // of names once and leads an integer id. Leads synced before this version have none
  // (null) until a run sees them unchanged; the partial index finds those few.
  `create table if not exists field_sets(id integer primary key, names text not null unique);
   alter table leads add column field_set integer;
   create index if not exists leads_without_field_set on leads(email) where field_set is null;`,
  // 4 (--missing): leads this tool paused or unsubscribed; null for every lead before.
  `alter table leads add column removed text check (removed in ('paused','unsubscribed'));`,
];

/** The leads table's columns other than origin, qualified by the alias `l`. */
const LEAD_COLUMNS = "l.email, l.hash, l.lead_id, l.status, l.reason, l.first_synced_at, " +
  "l.last_synced_at";

/** Brings the index at `path` up to SCHEMA_VERSION, one transaction per step. */
function migrate(db: DatabaseSync, path: string): void {
  db.exec("create table if not exists meta(key text primary key, value text not null)");
  const row = db.prepare("select value from meta where key = 'schema_version'").get() as
    | { value: string }
    | undefined;
  const version = row ? Number(row.value) : 0;
  if (version > SCHEMA_VERSION) {
    throw new UsageError(
      `the index ${path} has schema version ${version}, newer than this smartlead-sync (${SCHEMA_VERSION})`,
      "upgrade smartlead-sync",
    );
  }
  for (let v = version; v < SCHEMA_VERSION; v++) {
    db.exec("begin immediate");
    try {
      db.exec(MIGRATIONS[v]!);
      db.prepare(
        "insert into meta(key, value) values ('schema_version', ?) on conflict(key) do update set value = excluded.value",
      ).run(String(v + 1));
      db.exec("commit");
    } catch (e) {
      db.exec("rollback");
      throw e;
    }
  }
}

/** Staged rows bound per insert statement (6 parameters each). */
const STAGE_ROWS_PER_INSERT = 64;
const STAGED_COLUMNS = "insert into run_staged(seq, email, hash, source, line, payload) values ";
const INSERT_STAGED_ONE = STAGED_COLUMNS + "(?, ?, ?, ?, ?, ?)";
const INSERT_STAGED_MANY = STAGED_COLUMNS +
  Array.from({ length: STAGE_ROWS_PER_INSERT }, () => "(?, ?, ?, ?, ?, ?)").join(", ");

/** Opens (creating and migrating) the index at `path`, or an in-memory one. */
export class IndexStore {
  readonly path: string;
  readonly db: DatabaseSync;
  readonly readOnly: boolean;
  #stmts = new Map<string, StatementSync>();
  /** SQL for a lead's origin: a read-only index of schema 1 has no column (all `tool`). */
  #origin = "l.origin";
  /** SQL for a lead's field set: a read-only index before schema 3 has none (null). */
  #fieldSet = "l.field_set";
  /** field_sets, both ways, as far as this run has used them. */
  #setNames = new Map<number, string>();
  #setIds = new Map<string, number>();
  /** SQL for a lead's removal: a read-only index before schema 3 has none (all null). */
  #removed = "l.removed";
  #staged = 0;
  /** No rows were staged since duplicates were last collapsed (and the email index made). */
  #folded = false;
  /** Told every batch of outcomes `record()` committed (see `onRecorded`). */
  #recorded: Array<(outcomes: readonly RecordedOutcome[]) => void> = [];

  constructor(path: string, opts: { readOnly?: boolean } = {}) {
    this.path = path;
    this.readOnly = opts.readOnly ?? false;
    try {
      this.db = openIndex(path, {
        readOnly: this.readOnly,
        schemaVersion: SCHEMA_VERSION,
        migrate: (db) => migrate(db, path),
      });
      this.db.exec("pragma busy_timeout = 5000");
      if (!this.readOnly) {
        this.db.exec("pragma journal_mode = wal; pragma synchronous = normal");
      }
      this.db.exec("pragma temp_store = file; pragma cache_size = -16000");
      if (!this.readOnly) migrate(this.db, path);
    } catch (e) {
      throw environmentError(e, path) ?? new UsageError(
        `cannot open the index ${path}: ${e instanceof Error ? e.message : String(e)}`,
        "check --state and the permissions of its directory",
      );
    }
    if (this.readOnly && !this.#hasColumn("leads", "origin")) this.#origin = "'tool'";
    if (this.readOnly && !this.#hasColumn("leads", "field_set")) this.#fieldSet = "null";
    if (this.readOnly && !this.#hasColumn("leads", "removed")) this.#removed = "null";
    // The run's staging layout: run_staged, append-only in input order (seq is the rowid);
    // run_plan, the action of each staged row keyed by (action, seq); run_rows, a view
    // joining them (action null until planned); run_keep, see keep().
    this.db.exec(`create temp table run_keep(email text primary key) without rowid;
      create temp table run_staged(seq integer primary key, email text not null,
        hash text not null, source text not null, line integer not null, payload text not null);
      create temp table run_plan(action text not null, seq integer not null,
        primary key (action, seq)) without rowid;
      create temp view run_rows as
        select s.email, p.seq as seq, s.hash, s.source, s.line, s.payload, p.action
        from run_staged s left join run_plan p on p.seq = s.seq`);
  }

  #hasColumn(table: string, column: string): boolean {
    try {
      return this.db.prepare(`select 1 from pragma_table_info('${table}') where name = ?`)
        .get(column) !== undefined;
    } catch {
      return false;
    }
  }

  #stmt(sql: string): StatementSync {
    let s = this.#stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.#stmts.set(sql, s);
    }
    return s;
  }

  getMeta(key: string): string | undefined {
    try {
      const row = this.#stmt("select value from meta where key = ?").get(key) as
        | { value: string }
        | undefined;
      return row?.value;
    } catch {
      return undefined;
    }
  }

  setMeta(key: string, value: string): void {
    this.#stmt(
      "insert into meta(key, value) values (?, ?) on conflict(key) do update set value = excluded.value",
    )
      .run(key, value);
  }

  /**
   * Stages valid leads; for an email seen before in this run, the later row wins.
   *
   * Rows are appended in input order and duplicates are collapsed once, in `#fold()`: an
   * upsert keyed by email costs a random B-tree insert per row, which for a million leads
   * (a ~350 MB table, spilled to a temporary file) was ~35 µs a row against ~3 µs for the
   * append. Rows are bound as parameters, many per statement: cheaper than one JSON text
   * through json_each (which parses every row's text again per column).
   */
  stage(batch: readonly StagedLead[]): void {
    if (batch.length === 0) return;
    let seq = this.#staged;
    const many = this.#stmt(INSERT_STAGED_MANY);
    const one = this.#stmt(INSERT_STAGED_ONE);
    const args: Array<string | number> = new Array(STAGE_ROWS_PER_INSERT * 6);
    this.db.exec("begin");
    try {
      let i = 0;
      for (; i + STAGE_ROWS_PER_INSERT <= batch.length; i += STAGE_ROWS_PER_INSERT) {
        for (let j = 0, k = 0; j < STAGE_ROWS_PER_INSERT; j++) {
          const b = batch[i + j]!;
          args[k++] = ++seq;
          args[k++] = b.email;
          args[k++] = b.hash;
          args[k++] = b.source;
          args[k++] = b.line;
          args[k++] = b.payload;
        }
        many.run(...args);
      }
      for (; i < batch.length; i++) {
        const b = batch[i]!;
        one.run(++seq, b.email, b.hash, b.source, b.line, b.payload);
      }
      this.db.exec("commit");
    } catch (e) {
      this.db.exec("rollback");
      throw e;
    }
    this.#staged += batch.length;
    this.#folded = false;
  }

  /**
   * Collapses staged duplicates (for each email only the row with the highest seq stays)
   * and indexes the rest by email; the index covers the hash, so that planning can walk it
   * in email order beside the index's own primary key.
   */
  #fold(): void {
    if (this.#folded) return;
    this.db.exec("begin");
    try {
      this.db.exec(
        "create index if not exists temp.run_staged_email on run_staged(email, hash)",
      );
      this.db.exec(`delete from run_staged where seq in (
        select r.seq from (
          select email, max(seq) as keep from run_staged group by email having count(*) > 1
        ) d join run_staged r on r.email = d.email and r.seq < d.keep)`);
      this.db.exec("commit");
    } catch (e) {
      this.db.exec("rollback");
      throw e;
    }
    this.#folded = true;
  }

  /** Leads staged in this run, after collapsing duplicates. */
  stagedDistinct(): number {
    this.#fold();
    return (this.#stmt("select count(*) as n from run_staged").get() as { n: number }).n;
  }

  /** Rows staged in this run, duplicates included. */
  get stagedTotal(): number {
    return this.#staged;
  }

  /**
   * Decides, in SQL, what happens to every staged lead: add, update, unchanged, or
   * skip_rejected (Smartlead refused this exact payload before). Returns the counts.
   */
  plan(
    opts: {
      fullRefresh: boolean;
      retryRejected: boolean;
      /** The same as `missing: "delete"`. */
      deleteMissing?: boolean;
      missing?: MissingAction;
      deleteForeign?: boolean;
    },
  ): PlanCounts {
    const full = opts.fullRefresh ? 1 : 0;
    const retry = opts.retryRejected ? 1 : 0;
    this.#fold();
    // The join walks the staged rows in email order (the covering index) beside the index's
    // primary key, so both are read sequentially; the actions are written once, sorted, into
    // run_plan instead of updating every wide staged row.
    this.db.exec("begin");
    try {
      this.db.exec("delete from run_plan");
      this.db.exec(`insert into run_plan(action, seq)
        select case
          when l.email is null or ${full} then 'add'
          when l.status = 'synced' and l.hash = r.hash then 'unchanged'
          when l.status = 'synced' then 'update'
          when l.status = 'pending' and l.lead_id is not null then 'update'
          when l.status = 'pending' then 'add'
          when ${retry} or l.hash <> r.hash then 'add'
          else 'skip_rejected' end, r.seq
        from run_staged r indexed by run_staged_email
        left join main.leads l on l.email = r.email
        order by 1, 2`);
      this.db.exec("commit");
    } catch (e) {
      this.db.exec("rollback");
      throw e;
    }
    const counts: PlanCounts = {
      add: 0,
      update: 0,
      unchanged: 0,
      skippedRejected: 0,
      delete: 0,
      remove: 0,
      resume: 0,
    };
    for (
      const r of this.db.prepare("select action, count(*) as n from run_plan group by action").all()
    ) {
      const { action, n } = r as { action: string; n: number };
      if (action === "add") counts.add = n;
      else if (action === "update") counts.update = n;
      else if (action === "unchanged") counts.unchanged = n;
      else if (action === "skip_rejected") counts.skippedRejected = n;
    }
    const action = opts.missing ?? (opts.deleteMissing ? "delete" : "ignore");
    if (action !== "ignore") {
      counts.remove = this.missing({ foreign: opts.deleteForeign ?? false, action }).length;
      if (action === "delete") counts.delete = counts.remove;
    }
    counts.resume = this.pausedInInput().length;
    return counts;
  }

  /** The planned leads of one kind, in input order, `size` at a time (keyset pages). */
  *planned(kind: PlanKind, size: number): Generator<StagedLead[]> {
    const stmt = this.db.prepare(
      `select r.email, r.seq, r.hash, r.source, r.line, r.payload, l.lead_id as leadId,
         l.status as indexed, ${this.#origin} as origin, ${this.#fieldSet} as fieldSet
       from run_rows r left join main.leads l on l.email = r.email
       where r.action = ? and r.seq > ? order by r.seq limit ?`,
    );
    let after = 0;
    while (true) {
      const rows = stmt.all(kind, after, size) as unknown as Array<StagedLead & { seq: number }>;
      if (rows.length === 0) return;
      after = rows[rows.length - 1]!.seq;
      yield rows;
      if (rows.length < size) return;
    }
  }

  /**
   * Synced leads in the index that this run's input does not contain, in email order;
   * only those this tool added unless `foreign` (then every origin). For `pause`, leads
   * this tool already paused or unsubscribed are left out; for `unsubscribe`, those it
   * already unsubscribed; `delete` (the default) takes them all.
   */
  missing(opts: { foreign: boolean; action?: MissingAction }): IndexedLead[] {
    const action = opts.action ?? "delete";
    const removed = action === "pause"
      ? `and ${this.#removed} is null`
      : action === "unsubscribe"
      ? `and (${this.#removed} is null or ${this.#removed} <> 'unsubscribed')`
      : "";
    return this.db.prepare(
      `select ${this.#columns} from main.leads l
       where l.status = 'synced' and (${opts.foreign ? 1 : 0} or ${this.#origin} = 'tool')
       ${removed}
       and not exists (select 1 from run_rows r where r.email = l.email)
       and not exists (select 1 from run_keep k where k.email = l.email) order by l.email`,
    ).all() as unknown as IndexedLead[];
  }

  /** Every column of an indexed lead, for `select ... from leads l`. */
  get #columns(): string {
    return `${LEAD_COLUMNS}, ${this.#origin} as origin, ${this.#removed} as removed`;
  }

  /** Synced leads this tool paused that are in this run's input (valid rows): to resume. */
  pausedInInput(): IndexedLead[] {
    return this.db.prepare(
      `select ${this.#columns} from main.leads l
       where l.status = 'synced' and ${this.#removed} = 'paused'
       and exists (select 1 from run_rows r where r.email = l.email) order by l.email`,
    ).all() as unknown as IndexedLead[];
  }

  /** How many leads this tool unsubscribed are in this run's input (they stay unsubscribed). */
  unsubscribedInInput(): number {
    return (this.db.prepare(
      `select count(*) as n from main.leads l where ${this.#removed} = 'unsubscribed'
       and exists (select 1 from run_rows r where r.email = l.email)`,
    ).get() as { n: number }).n;
  }

  /** Records that this tool paused or unsubscribed these leads (null: neither any more). */
  setRemoved(emails: readonly string[], removed: LeadRemoval | null): void {
    if (emails.length === 0) return;
    this.db.exec("begin immediate");
    try {
      this.#stmt(
        "update leads set removed = ?, updated_at = ? where email in (select value from json_each(?))",
      ).run(removed, Date.now(), JSON.stringify(emails));
      this.db.exec("commit");
    } catch (e) {
      this.db.exec("rollback");
      throw e;
    }
  }

  /**
   * Leads of this run found gone from the campaign (a stale id): forgotten by the index and
   * planned as adds. Returns how many had each action before, so the caller can move its
   * counts.
   */
  replanAsAdd(emails: readonly string[]): Record<string, number> {
    const out: Record<string, number> = {};
    if (emails.length === 0) return out;
    const list = JSON.stringify(emails);
    this.db.exec("begin immediate");
    try {
      for (
        const r of this.db.prepare(
          `select p.action, count(*) as n from run_staged s join run_plan p on p.seq = s.seq
           where s.email in (select value from json_each(?)) group by p.action`,
        ).all(list)
      ) {
        const { action, n } = r as { action: string; n: number };
        out[action] = n;
      }
      this.db.prepare(
        `update run_plan set action = 'add' where action <> 'add' and seq in
           (select seq from run_staged where email in (select value from json_each(?)))`,
      ).run(list);
      this.#stmt("delete from leads where email in (select value from json_each(?))").run(list);
      this.db.exec("commit");
    } catch (e) {
      this.db.exec("rollback");
      throw e;
    }
    return out;
  }

  /** How many synced leads absent from this run's input were not added by this tool. */
  missingForeign(): number {
    return (this.db.prepare(
      `select count(*) as n from main.leads l where l.status = 'synced'
       and ${this.#origin} = 'foreign'
       and not exists (select 1 from run_rows r where r.email = l.email)
       and not exists (select 1 from run_keep k where k.email = l.email)`,
    ).get() as { n: number }).n;
  }

  /**
   * Emails present in the input on rows rejected for another reason than their email: they
   * are not "missing", so `--delete-missing` and a full refresh leave their leads alone.
   */
  keep(emails: readonly string[]): void {
    if (emails.length === 0) return;
    const stmt = this.#stmt("insert or ignore into run_keep(email) values (?)");
    this.db.exec("begin");
    for (const e of emails) stmt.run(e);
    this.db.exec("commit");
  }

  /** Records Smartlead's answers for a batch in one transaction. */
  record(
    outcomes: ReadonlyArray<{
      email: string;
      hash: string;
      status: LeadStatus;
      leadId?: number | null;
      reason?: string | null;
      /** Who added the lead to the campaign (the caller keeps an indexed lead's own). */
      origin: LeadOrigin;
      /** With "synced": the field set of the payload just accepted (`fieldSetId`). */
      fieldSet?: number | null;
    }>,
  ): void {
    if (outcomes.length === 0) return;
    const now = Date.now();
    const rows = outcomes.map((o) => [
      o.email,
      o.hash,
      o.leadId ?? null,
      o.status,
      o.reason ?? null,
      o.status === "synced" ? now : null,
      o.origin,
      o.status === "synced" ? o.fieldSet ?? null : null,
    ]);
    this.db.exec("begin immediate");
    try {
      this.#stmt(
        `insert into leads(email, hash, lead_id, status, reason, first_synced_at, last_synced_at,
           updated_at, origin, field_set)
         select value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>5, ${now},
           value->>6, value->>7
         from json_each(?) where true
         on conflict(email) do update set
           hash = excluded.hash,
           lead_id = coalesce(excluded.lead_id, leads.lead_id),
           status = excluded.status,
           reason = excluded.reason,
           origin = excluded.origin,
           field_set = case when excluded.status = 'synced'
             then coalesce(excluded.field_set, leads.field_set) else leads.field_set end,
           first_synced_at = coalesce(leads.first_synced_at, excluded.first_synced_at),
           last_synced_at = coalesce(excluded.last_synced_at, leads.last_synced_at),
           updated_at = excluded.updated_at`,
      ).run(JSON.stringify(rows));
      this.db.exec("commit");
    } catch (e) {
      this.db.exec("rollback");
      throw e;
    }
    for (const listener of this.#recorded) listener(outcomes);
  }

  /** Lead ids learned from the roster, for emails the index has. Returns how many were set. */
  setLeadIds(pairs: ReadonlyArray<[email: string, leadId: number]>): number {
    if (pairs.length === 0) return 0;
    this.db.exec("begin immediate");
    const r = this.#stmt(
      `update leads set lead_id = j.value->>1 from json_each(?) j
       where leads.email = j.value->>0 and (leads.lead_id is null or leads.lead_id <> j.value->>1)`,
    ).run(JSON.stringify(pairs));
    this.db.exec("commit");
    return Number(r.changes);
  }

  /**
   * Sets the hash of synced leads to that of their data in Smartlead (`verify --repair` on
   * drift): a lead edited in Smartlead then differs from the input, and is updated next push.
   */
  setHashes(pairs: ReadonlyArray<[email: string, hash: string]>): number {
    if (pairs.length === 0) return 0;
    this.db.exec("begin immediate");
    try {
      const r = this.#stmt(
        `update leads set hash = j.value->>1, updated_at = ? from json_each(?) j
         where leads.email = j.value->>0 and leads.status = 'synced'`,
      ).run(Date.now(), JSON.stringify(pairs));
      this.db.exec("commit");
      return Number(r.changes);
    } catch (e) {
      this.db.exec("rollback");
      throw e;
    }
  }

  /** Removes emails from the index (after a delete, or for full-refresh's mirror). */
  forget(emails: readonly string[]): void {
    if (emails.length === 0) return;
    this.db.exec("begin immediate");
    this.#stmt("delete from leads where email in (select value from json_each(?))").run(
      JSON.stringify(emails),
    );
    this.db.exec("commit");
  }

  /**
   * After a complete full refresh: drops index entries that are not in this run, except
   * leads this tool paused or unsubscribed (still in the campaign, resumed if they return).
   */
  forgetAbsent(): number {
    this.db.exec("begin immediate");
    const r = this.db.prepare(
      `delete from leads where not exists (select 1 from run_rows r where r.email = leads.email)
       and not exists (select 1 from run_keep k where k.email = leads.email)
       and leads.removed is null`,
    ).run();
    this.db.exec("commit");
    return Number(r.changes);
  }

  /** Forgets lead ids Smartlead no longer knows (a lead deleted in its UI). */
  clearLeadIds(emails: readonly string[]): void {
    if (emails.length === 0) return;
    this.db.exec("begin immediate");
    this.#stmt("update leads set lead_id = null where email in (select value from json_each(?))")
      .run(JSON.stringify(emails));
    this.db.exec("commit");
  }

  /** The id of a field set (its names as `fieldNamesOf` writes them), created when new. */
  fieldSetId(names: string): number {
    let id = this.#setIds.get(names);
    if (id === undefined) {
      this.#stmt("insert or ignore into field_sets(names) values (?)").run(names);
      id = (this.#stmt("select id from field_sets where names = ?").get(names) as { id: number })
        .id;
      this.#setIds.set(names, id);
      this.#setNames.set(id, names);
    }
    return id;
  }

  /** The names of a field set, or undefined for none (null) or an unknown id. */
  fieldSetNames(id: number | null | undefined): string | undefined {
    if (id === null || id === undefined) return undefined;
    let names = this.#setNames.get(id);
    if (names === undefined) {
      const row = this.#stmt("select names from field_sets where id = ?").get(id) as
        | { names: string }
        | undefined;
      if (!row) return undefined;
      names = row.names;
      this.#setNames.set(id, names);
      this.#setIds.set(names, id);
    }
    return names;
  }

  /**
   * Gives a field set to synced leads that have none (indexed before schema 3) and that this
   * run's input holds unchanged: their staged payload is the one Smartlead last accepted.
   * Walks only the leads without a set (a partial index), so it costs nothing once done.
   */
  backfillFieldSets(namesOf: (payload: string) => string): number {
    if (this.readOnly) return 0;
    this.#fold();
    const page = this.db.prepare(
      `select l.email, r.payload from main.leads l indexed by leads_without_field_set
       join run_staged r indexed by run_staged_email on r.email = l.email and r.hash = l.hash
       where l.field_set is null and l.status = 'synced' and l.email > ? order by l.email limit 5000`,
    );
    const set = this.#stmt(
      `update leads set field_set = j.value->>1 from json_each(?) j where leads.email = j.value->>0`,
    );
    let done = 0;
    for (let after = "";;) {
      const rows = page.all(after) as Array<{ email: string; payload: string }>;
      if (rows.length === 0) return done;
      const pairs = rows.map((r) => [r.email, this.fieldSetId(namesOf(r.payload))]);
      this.db.exec("begin immediate");
      try {
        set.run(JSON.stringify(pairs));
        this.db.exec("commit");
      } catch (e) {
        this.db.exec("rollback");
        throw e;
      }
      done += rows.length;
      after = rows[rows.length - 1]!.email;
    }
  }

  /**
   * Calls `listener` after each `record()` transaction committed, with its outcomes (the
   * streaming engine keeps its table in step with the index this way). Returns the remover.
   */
  onRecorded(listener: (outcomes: readonly RecordedOutcome[]) => void): () => void {
    this.#recorded.push(listener);
    return () => {
      this.#recorded = this.#recorded.filter((l) => l !== listener);
    };
  }

  /** The index state of those of `emails` it has, in one statement. */
  leadStates(emails: readonly string[]): Map<string, LeadState> {
    const out = new Map<string, LeadState>();
    if (emails.length === 0) return out;
    for (
      const r of this.#stmt(
        `select l.email, l.lead_id as leadId, l.status, ${this.#origin} as origin,
           ${this.#fieldSet} as fieldSet
         from json_each(?) j join leads l on l.email = j.value`,
      ).iterate(JSON.stringify(emails))
    ) {
      const row = r as unknown as LeadState & { email: string };
      out.set(row.email, {
        leadId: row.leadId,
        status: row.status,
        origin: row.origin,
        fieldSet: row.fieldSet,
      });
    }
    return out;
  }

  /**
   * Indexed leads that no row staged in this run and no kept email has, in email order:
   * the candidates for "absent from the input" when part of the input was planned
   * elsewhere (the streaming engine asks its own table about each). `synced` only synced
   * leads; `origin` only leads of that origin.
   */
  *unstaged(opts: { synced: boolean; origin?: LeadOrigin }): Generator<IndexedLead> {
    this.#fold();
    const where = [
      opts.synced ? "l.status = 'synced'" : "1",
      opts.origin === undefined ? "1" : `${this.#origin} = '${opts.origin}'`,
    ].join(" and ");
    for (
      const row of this.db.prepare(
        `select ${LEAD_COLUMNS}, ${this.#origin} as origin from main.leads l where ${where}
         and not exists (select 1 from run_staged r where r.email = l.email)
         and not exists (select 1 from run_keep k where k.email = l.email) order by l.email`,
      ).iterate()
    ) {
      yield row as unknown as IndexedLead;
    }
  }

  /** Up to `limit` indexed emails after `after` that no staged row or kept email has. */
  unstagedEmails(after: string, limit: number): string[] {
    this.#fold();
    return (this.#stmt(
      `select l.email from main.leads l where l.email > ?
       and not exists (select 1 from run_staged r where r.email = l.email)
       and not exists (select 1 from run_keep k where k.email = l.email)
       order by l.email limit ?`,
    ).all(after, limit) as Array<{ email: string }>).map((r) => r.email);
  }

  /**
   * Whether a run must see the whole input before its first write, whatever its flags:
   * the index holds leads this tool paused or unsubscribed (resumed, or counted, when the
   * input has them).
   */
  needsWholeInput(): boolean {
    if (this.#removed === "null") return false;
    return this.#stmt(`select 1 from leads l where ${this.#removed} is not null limit 1`)
      .get() !== undefined;
  }

  /**
   * Synced leads without a field set (see `backfillFieldSets`), email → hash; undefined
   * when there are more than `limit`. Empty for a read-only index (nothing is written).
   */
  withoutFieldSet(limit: number): Map<string, string> | undefined {
    const out = new Map<string, string>();
    if (this.readOnly) return out;
    const rows = this.#stmt(
      `select l.email, l.hash from leads l indexed by leads_without_field_set
       where l.field_set is null and l.status = 'synced' limit ?`,
    ).all(limit + 1) as Array<{ email: string; hash: string }>;
    if (rows.length > limit) return undefined;
    for (const r of rows) out.set(r.email, r.hash);
    return out;
  }

  /**
   * `backfillFieldSets` for leads the streaming engine saw unchanged: [email, hash, names]
   * gives the lead a field set if it still has none and still that hash. Returns how many.
   */
  setFieldSets(leads: ReadonlyArray<[email: string, hash: string, names: string]>): number {
    if (this.readOnly || leads.length === 0) return 0;
    const rows = leads.map(([email, hash, names]) => [email, hash, this.fieldSetId(names)]);
    this.db.exec("begin immediate");
    try {
      const r = this.#stmt(
        `update leads set field_set = j.value->>2 from json_each(?) j
         where leads.email = j.value->>0 and leads.hash = j.value->>1
         and leads.field_set is null and leads.status = 'synced'`,
      ).run(JSON.stringify(rows));
      this.db.exec("commit");
      return Number(r.changes);
    } catch (e) {
      this.db.exec("rollback");
      throw e;
    }
  }

  /** Leads in the index (every status). */
  count(): number {
    try {
      return Number((this.#stmt("select count(*) as n from leads").get() as { n: number }).n);
    } catch {
      return 0;
    }
  }

  lookup(email: string): IndexedLead | undefined {
    return this.#stmt(`select ${this.#columns} from leads l where email = ?`).get(email) as
      | IndexedLead
      | undefined;
  }

  /** Every indexed lead, ordered by email. */
  *all(): Generator<IndexedLead> {
    for (
      const row of this.db.prepare(`select ${this.#columns} from leads l order by email`)
        .iterate()
    ) {
      yield row as unknown as IndexedLead;
    }
  }

  /** How many synced leads this tool paused, and unsubscribed (`--missing`). */
  removedCounts(): Record<LeadRemoval, number> {
    const out: Record<LeadRemoval, number> = { paused: 0, unsubscribed: 0 };
    try {
      for (
        const r of this.db.prepare(
          `select ${this.#removed} as removed, count(*) as n from leads l
           where ${this.#removed} is not null group by 1`,
        ).all()
      ) {
        out[(r as { removed: LeadRemoval }).removed] = Number((r as { n: number }).n);
      }
    } catch {
      // an index without tables yet
    }
    return out;
  }

  /** Counts per status. */
  statusCounts(): Record<LeadStatus, number> {
    const out: Record<LeadStatus, number> = { synced: 0, rejected: 0, pending: 0 };
    try {
      for (
        const r of this.db.prepare("select status, count(*) as n from leads group by status").all()
      ) {
        out[(r as { status: LeadStatus }).status] = Number((r as { n: number }).n);
      }
    } catch {
      // an index without tables yet
    }
    return out;
  }

  startRun(mode: string): number {
    const r = this.db.prepare("insert into runs(started_at, mode) values (?, ?)").run(
      Date.now(),
      mode,
    );
    return Number(r.lastInsertRowid);
  }

  finishRun(id: number, exitCode: number, summary: unknown): void {
    this.db.prepare("update runs set finished_at = ?, exit_code = ?, summary = ? where id = ?").run(
      Date.now(),
      exitCode,
      JSON.stringify(summary),
      id,
    );
  }

  lastRun(): {
    started_at: number;
    finished_at: number | null;
    mode: string;
    exit_code: number | null;
    summary: string | null;
  } | undefined {
    try {
      return this.db.prepare("select * from runs order by id desc limit 1").get() as never;
    } catch {
      return undefined;
    }
  }

  close(): void {
    this.#stmts.clear();
    this.db.close();
  }
}
