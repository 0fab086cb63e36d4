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

export const SCHEMA_VERSION = 2;

export type LeadStatus = "synced" | "rejected" | "pending";

/**
 * Who put the lead in the campaign: `tool`, this tool's add-leads (the only leads
 * `--delete-missing` deletes by default), or `foreign`, someone else (found by
 * `verify --repair`, or already in the campaign when this tool first sent it).
 */
export type LeadOrigin = "tool" | "foreign";

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
}

/** Counts per plan category. */
export interface PlanCounts {
  add: number;
  update: number;
  unchanged: number;
  skippedRejected: number;
  delete: number;
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
}

const MIGRATIONS: string[] = [
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
      deleteMissing: boolean;
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
    const counts: PlanCounts = { add: 0, update: 0, unchanged: 0, skippedRejected: 0, delete: 0 };
    for (
      const r of this.db.prepare("select action, count(*) as n from run_plan group by action").all()
    ) {
      const { action, n } = r as { action: string; n: number };
      if (action === "add") counts.add = n;
      else if (action === "update") counts.update = n;
      else if (action === "unchanged") counts.unchanged = n;
      else if (action === "skip_rejected") counts.skippedRejected = n;
    }
    if (opts.deleteMissing) {
      counts.delete = this.missing({ foreign: opts.deleteForeign ?? false }).length;
    }
    return counts;
  }

  /** The planned leads of one kind, in input order, `size` at a time (keyset pages). */
  *planned(kind: PlanKind, size: number): Generator<StagedLead[]> {
    const stmt = this.db.prepare(
      `select r.email, r.seq, r.hash, r.source, r.line, r.payload, l.lead_id as leadId,
         l.status as indexed, ${this.#origin} as origin
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
   * only those this tool added unless `foreign` (then every origin).
   */
  missing(opts: { foreign: boolean }): IndexedLead[] {
    return this.db.prepare(
      `select ${LEAD_COLUMNS}, ${this.#origin} as origin from main.leads l
       where l.status = 'synced' and (${opts.foreign ? 1 : 0} or ${this.#origin} = 'tool')
       and not exists (select 1 from run_rows r where r.email = l.email)
       and not exists (select 1 from run_keep k where k.email = l.email) order by l.email`,
    ).all() as unknown as IndexedLead[];
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
    ]);
    this.db.exec("begin immediate");
    try {
      this.#stmt(
        `insert into leads(email, hash, lead_id, status, reason, first_synced_at, last_synced_at,
           updated_at, origin)
         select value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>5, ${now},
           value->>6
         from json_each(?) where true
         on conflict(email) do update set
           hash = excluded.hash,
           lead_id = coalesce(excluded.lead_id, leads.lead_id),
           status = excluded.status,
           reason = excluded.reason,
           origin = excluded.origin,
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

  /** Removes emails from the index (after a delete, or for full-refresh's mirror). */
  forget(emails: readonly string[]): void {
    if (emails.length === 0) return;
    this.db.exec("begin immediate");
    this.#stmt("delete from leads where email in (select value from json_each(?))").run(
      JSON.stringify(emails),
    );
    this.db.exec("commit");
  }

  /** After a complete full refresh: drops index entries that are not in this run. */
  forgetAbsent(): number {
    this.db.exec("begin immediate");
    const r = this.db.prepare(
      `delete from leads where not exists (select 1 from run_rows r where r.email = leads.email)
       and not exists (select 1 from run_keep k where k.email = leads.email)`,
    ).run();
    this.db.exec("commit");
    return Number(r.changes);
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
        `select l.email, l.lead_id as leadId, l.status, ${this.#origin} as origin
         from json_each(?) j join leads l on l.email = j.value`,
      ).iterate(JSON.stringify(emails))
    ) {
      const row = r as unknown as LeadState & { email: string };
      out.set(row.email, { leadId: row.leadId, status: row.status, origin: row.origin });
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

  /** Leads in the index (every status). */
  count(): number {
    try {
      return Number((this.#stmt("select count(*) as n from leads").get() as { n: number }).n);
    } catch {
      return 0;
    }
  }

  lookup(email: string): IndexedLead | undefined {
    return this.#stmt(
      `select ${LEAD_COLUMNS}, ${this.#origin} as origin from leads l where email = ?`,
    ).get(email) as unknown as IndexedLead | undefined;
  }

  /** Every indexed lead, ordered by email. */
  *all(): Generator<IndexedLead> {
    for (
      const row of this.db.prepare(
        `select ${LEAD_COLUMNS}, ${this.#origin} as origin from leads l order by email`,
      ).iterate()
    ) {
      yield row as unknown as IndexedLead;
    }
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
