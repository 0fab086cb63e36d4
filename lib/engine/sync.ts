/**
 * The streaming sync engine, shared by every front end (CLI `push`, and later the Airbyte
 * and Singer ones): rows stream through the mapper built per header into the planner; the
 * planner's batches (by size and age) are sent while reading goes on, at most
 * `concurrency` in flight (`dispatch.ts`); each 2xx is recorded in the index by the sender
 * and then fed back to the planner, and `onCommitted` tells the front end how far the
 * input is settled (a checkpoint taken after row N may be released once N < lowWater).
 *
 *   read(rows)  every row: planned, and sent as batches fill (not with `planFirst`)
 *   plan()      end of input: the last open batches; the staged part planned in SQL;
 *               the counts are final
 *   send()      everything planned is sent; returns when all of it is recorded
 *   missing() / missingForeign() / forgetAbsent()
 *               the whole-input parts: index leads this input lacks
 *
 * State per email lives in a fingerprint table with a memory cap. The index goes into it
 * in bulk (`loadIndex`) when it fits, or batch by batch (`IndexLookup`) when it is too big
 * or much bigger than the input. Once the table is full, rows of emails first seen after
 * that are staged on disk (`IndexStore.stage`) and planned in SQL at end of input, today's
 * path: memory stays flat whatever the input size. `planFirst` stages every row: the whole
 * input is read and planned before the first write (what guard rails that need all of it,
 * --delete-missing and --max-rejects, rely on).
 */
import { CreditsExhaustedError, InterruptedError } from "../errors.ts";
import type {
  IndexedLead,
  IndexStore,
  MissingAction,
  PlanCounts,
  StagedLead,
} from "../index/store.ts";
import type { MapOverrides } from "../mapping.ts";
import type { Reject } from "../pipeline/rejects.ts";
import type { RunStats } from "../pipeline/stats.ts";
import { Dispatcher, type SenderLike, type SendJob } from "./dispatch.ts";
import { emailFingerprint, hashHex } from "./fingerprint.ts";
import { ABSENT, BYTES_PER_SLOT, FingerprintTable } from "./fingerprint_table.ts";
import { type FlowStats, type LeadSink, planRows } from "./flow.ts";
import { IndexLookup, loadIndex } from "./index_load.ts";
import { Mappers } from "./mappers.ts";
import { type ActionBatch, type LeadInput, type PlannedLead, Planner } from "./planner.ts";
import type { RowBatch } from "./worker_rows.ts";

export type { SenderLike } from "./dispatch.ts";

/** The default memory cap of the fingerprint table: about 1.2M distinct emails. */
export const DEFAULT_TABLE_BYTES = 32 * 1024 * 1024;

/** How far the input is settled, after each batch (see `EngineOptions.onCommitted`). */
export interface Checkpoint {
  /** Rows handed to the engine so far, their rejects passed to `reject`. */
  rows: number;
  /**
   * Every row with a smaller ordinal (1-based, rejects included) is settled: its lead was
   * sent and recorded, needs nothing, or was replaced by a later row. Infinity: all rows.
   */
  lowWater: number;
}

export interface EngineOptions {
  store: IndexStore;
  /** Counts the engine keeps current (`syncStats`); the sender adds its own. */
  stats: RunStats;
  /** Sends the batches; undefined: a dry run (decide and count only, no payload is built). */
  sender?: SenderLike | undefined;
  /** A sender counting into other stats, for leads sent twice in one run. */
  resender?: (stats: RunStats) => SenderLike;
  map: MapOverrides;
  tags: readonly string[];
  /** Custom fields per lead (`--max-custom-fields`). */
  maxCustomFields?: number | undefined;
  /** Told what people should know about a header (the custom-field cap). */
  warn?: (message: string) => void;
  fullRefresh: boolean;
  retryRejected: boolean;
  /**
   * What happens to synced leads absent from the input (with `planFirst`: the staged plan
   * counts them; the caller lists them with `IndexStore.missing`). Default `ignore`.
   */
  missing?: MissingAction;
  /** With `missing`, also leads this tool did not add. */
  deleteForeign?: boolean;
  /**
   * Synced leads without a field set (`IndexStore.withoutFieldSet`): the payload of those
   * the input has unchanged (the last row for the email) is kept, for `backfill`.
   */
  withoutFieldSet?: ReadonlyMap<string, string> | undefined;
  /** Read and plan the whole input before the first write. */
  planFirst?: boolean;
  batchSize: number;
  concurrency: number;
  /** An open batch older than this is sent even when not full (default 1,000 ms). */
  maxAgeMs?: number;
  /** Updates kept back to end of input (see `PlannerOptions.holdUpdates`; default 20,000). */
  holdUpdates?: number;
  /** The fingerprint table's memory cap (default `DEFAULT_TABLE_BYTES`). */
  tableBytes?: number;
  /** Forces how the index reaches the table (tests, benchmarks); default: by the sizes. */
  indexMode?: "load" | "lookup";
  /** The input's size when known: sizes the table, and picks bulk load or lookups. */
  inputBytes?: number | undefined;
  /** A rejected row (the rejects file). */
  reject: (r: Reject) => Promise<void> | void;
  /** Asks the run to stop: no new batch starts; those in flight finish and are recorded. */
  signal?: AbortSignal | undefined;
  onProgress?: (phase: "reading" | "sending") => void;
  /** After each batch is over (not after a failure): see `Checkpoint`. */
  onCommitted?: (c: Checkpoint) => void;
  now?: () => number;
}

/** Rows staged per `IndexStore.stage` call. */
const STAGE_CHUNK = 4096;
/** Input bytes per row assumed when sizing the table from the input's size. */
const BYTES_PER_ROW = 128;

export class SyncEngine {
  readonly planner: Planner;
  /** How the index reaches the table: loaded whole, looked up per batch, or not at all. */
  readonly indexMode: "load" | "lookup" | "none";
  #o: EngineOptions;
  #table: FingerprintTable;
  #flow: FlowStats = { rows: 0, valid: 0, rejected: 0, overflowAt: undefined };
  #rowsDone = 0;
  #rejects: Reject[] = [];
  #staging: StagedLead[] = [];
  #keeps: string[] = [];
  #staged = 0;
  #firstStaged = Infinity;
  #stagedPlan: PlanCounts | undefined;
  #stagedDuplicates = 0;
  #stagedSent = false;
  #lookup: IndexLookup | undefined;
  #dispatch: Dispatcher | undefined;
  #stopping = false;
  /** No new batch starts (the run is failing for another reason). */
  #halted = false;
  #phase: "reading" | "sending" = "reading";
  #unhook: () => void;
  #fp = new Uint32Array(2);
  /** Bytes of the current input read, and of the inputs before it. */
  bytesRead = 0;

  constructor(opts: EngineOptions) {
    this.#o = opts;
    const { store } = opts;
    const maxBytes = opts.tableBytes ?? DEFAULT_TABLE_BYTES;
    const capKeys = Math.floor((maxBytes / BYTES_PER_SLOT) * 0.75);
    const estRows = opts.inputBytes === undefined
      ? undefined
      : Math.ceil(opts.inputBytes / BYTES_PER_ROW);
    const indexed = opts.planFirst ? 0 : store.count();
    let mode: SyncEngine["indexMode"] = opts.planFirst || indexed === 0
      ? "none"
      : opts.indexMode !== undefined
      ? opts.indexMode
      : indexed <= capKeys * 0.9 && (estRows === undefined || indexed <= 8 * estRows + 100_000)
      ? "load"
      : "lookup";
    const expected = Math.min(
      capKeys,
      Math.ceil(Math.max(mode === "load" ? indexed : 0, estRows ?? 0) * 1.05),
    );
    this.#table = new FingerprintTable({ expected, maxBytes });
    if (mode === "load" && loadIndex(store.db, this.#table).full) {
      // Cannot happen by the sizes above; stay correct if it does.
      this.#table = new FingerprintTable({ expected, maxBytes });
      mode = "lookup";
    }
    this.indexMode = mode;
    if (mode === "lookup") this.#lookup = new IndexLookup(store.db);
    const emit = opts.sender !== undefined;
    this.planner = new Planner({
      table: this.#table,
      fullRefresh: opts.fullRefresh,
      retryRejected: opts.retryRejected,
      emit,
      addBatchSize: opts.batchSize,
      // Updates are one request per lead: a batch of one takes one slot.
      updateBatchSize: 1,
      maxAgeMs: opts.maxAgeMs ?? 1000,
      holdUpdates: opts.holdUpdates ?? 20_000,
      now: opts.now ?? (() => performance.now()),
    });
    if (opts.sender !== undefined) {
      this.#dispatch = new Dispatcher({
        sender: opts.sender,
        ...(opts.resender ? { resender: opts.resender } : {}),
        stats: opts.stats,
        concurrency: opts.concurrency,
        prepare: (job) => this.#prepare(job),
        onSettled: () => this.#settled(),
      });
    }
    this.#unhook = store.onRecorded((outcomes) => this.planner.committed(outcomes));
    opts.signal?.addEventListener("abort", () => (this.#stopping = true), { once: true });
  }

  /** Where valid leads and kept emails go: the planner, or staging once it is full. */
  /** Unchanged leads without a field set: email → [hash, payload] (the last row wins). */
  #bare = new Map<string, [string, string]>();

  #sink: LeadSink = {
    add: (lead: LeadInput, source: string, line: number, ordinal: number): boolean => {
      const bare = this.#o.withoutFieldSet;
      if (bare !== undefined && bare.size > 0) {
        const indexed = bare.get(lead.email);
        if (indexed !== undefined) {
          const hash = hashHex(lead.hash[0]!, lead.hash[1]!);
          if (hash === indexed) this.#bare.set(lead.email, [hash, lead.payload()]);
          else this.#bare.delete(lead.email);
        }
      }
      if (!this.#o.planFirst && this.planner.add(lead, source, line, ordinal)) return true;
      this.#staging.push({
        email: lead.email,
        hash: hashHex(lead.hash[0]!, lead.hash[1]!),
        source,
        line,
        payload: this.#dispatch ? lead.payload() : "",
        leadId: null,
      });
      this.#staged++;
      if (ordinal < this.#firstStaged) this.#firstStaged = ordinal;
      if (this.#staging.length >= STAGE_CHUNK) this.#flushStaging();
      return true;
    },
    keep: (email: string): boolean => {
      if (this.#o.planFirst || !this.planner.keep(email)) {
        this.#keeps.push(email);
        if (this.#keeps.length >= STAGE_CHUNK) this.#flushStaging();
      }
      return true;
    },
  };

  #flushStaging(): void {
    if (this.#staging.length > 0) this.#o.store.stage(this.#staging);
    if (this.#keeps.length > 0) this.#o.store.keep(this.#keeps);
    this.#staging = [];
    this.#keeps = [];
  }

  /** Reads every row (see the module comment); throws what stops the run. */
  async read(rows: AsyncIterable<RowBatch>): Promise<void> {
    const o = this.#o;
    const tick = this.#dispatch && !o.planFirst
      ? setInterval(() => this.#start(), Math.max(10, (o.maxAgeMs ?? 1000) / 2))
      : undefined;
    let source: string | undefined;
    let before = 0;
    let last = 0;
    try {
      await planRows(rows, {
        mappers: new Mappers(o.map, o.tags, {
          maxCustomFields: o.maxCustomFields,
          ...(o.warn ? { warn: o.warn } : {}),
        }),
        planner: this.#sink,
        reject: (r, raw) => this.#rejects.push(raw === undefined ? r : { ...r, raw }),
        ...(this.#lookup ? { prepare: (emails: string[]) => this.#lookUp(emails) } : {}),
        between: async (_stats, b) => {
          if (b.source !== source) {
            before += last;
            source = b.source;
          }
          last = b.bytesRead;
          this.bytesRead = before + last;
          await this.#writeRejects();
          this.syncStats();
          o.onProgress?.("reading");
          if (o.signal?.aborted) this.#stopping = true;
          await this.#pump(true);
        },
      }, this.#flow);
      await this.#writeRejects();
      this.#flushStaging();
    } catch (e) {
      await this.halt();
      await this.#writeRejects().catch(() => {});
      throw e;
    } finally {
      if (tick !== undefined) clearInterval(tick);
    }
  }

  /** Starts no new batch, and returns once those in flight are over (a run that fails). */
  async halt(): Promise<void> {
    this.#halted = true;
    await this.#dispatch?.idle();
  }

  async #writeRejects(): Promise<void> {
    const list = this.#rejects;
    this.#rejects = [];
    for (const r of list) await this.#o.reject(r);
    this.#rowsDone = this.#flow.rows;
  }

  /** Looks the batch's emails the table does not have yet up in the index. */
  #lookUp(emails: string[]): void {
    const fresh = emails.filter((e) => {
      emailFingerprint(e, this.#fp);
      return this.#table.find(this.#fp[0]!, this.#fp[1]!) === ABSENT;
    });
    this.#lookup!.lookup(fresh, this.#table);
  }

  /** End of input: every row is planned; the counts are final. */
  plan(): void {
    this.planner.finish();
    this.#flushStaging();
    this.#planStaged();
    this.syncStats();
  }

  #planStaged(): void {
    if (this.#staged === 0 || this.#stagedPlan !== undefined) return;
    const { store } = this.#o;
    this.#stagedPlan = store.plan({
      fullRefresh: this.#o.fullRefresh,
      retryRejected: this.#o.retryRejected,
      missing: this.#o.missing ?? "ignore",
      deleteForeign: this.#o.deleteForeign ?? false,
    });
    this.#stagedDuplicates = store.stagedTotal - store.stagedDistinct();
  }

  /**
   * Counts for a summary of a run that stopped early: the staged rows are planned (so
   * that every valid lead has a category), as far as that can still be done.
   */
  settleCounts(): void {
    try {
      this.#flushStaging();
      this.#planStaged();
    } catch {
      // the summary then lacks the staged part's categories
    }
    this.syncStats();
  }

  /** Sends everything planned; returns when it is all recorded. Throws what stopped it. */
  async send(): Promise<void> {
    const d = this.#dispatch;
    if (d === undefined) return;
    this.#phase = "sending";
    this.#o.onProgress?.("sending");
    while (true) {
      await this.#pump(false);
      if (this.planner.idle && d.inFlight === 0) break;
      if (d.inFlight === 0) throw new Error("the planner holds leads but nothing is in flight");
      await d.slot();
    }
    if (this.#stagedPlan !== undefined) {
      const { store, batchSize } = this.#o;
      for (const leads of store.planned("add", batchSize)) await this.#startStaged("add", leads);
      for (const page of store.planned("update", 100)) {
        for (const lead of page) await this.#startStaged("update", [lead]);
      }
      await d.idle();
      this.#throwIfStopped();
    }
    this.#stagedSent = true;
    this.#checkpoint();
  }

  async #startStaged(kind: "add" | "update", leads: StagedLead[]): Promise<void> {
    const d = this.#dispatch!;
    while (!d.free) await d.slot();
    await this.#throwIfStopped();
    d.start({ kind, leads });
  }

  /**
   * Starts ready batches while slots are free; with `wait`, waits for a slot while more
   * batches are ready than slots (backpressure). After a failure or a stop request, waits
   * for the batches in flight and throws.
   */
  async #pump(wait: boolean): Promise<void> {
    const d = this.#dispatch;
    if (d === undefined) {
      if (this.#stopping) this.#throwStopped();
      return;
    }
    while (true) {
      await this.#throwIfStopped();
      this.#start();
      if (!wait || this.planner.ready <= this.#o.concurrency) return;
      await d.slot();
    }
  }

  /** Starts ready batches while slots are free (also from a timer and after each batch). */
  #start(): void {
    const d = this.#dispatch;
    if (d === undefined || this.#stopping || this.#halted || d.failure !== undefined) return;
    // By age only when the sender would otherwise idle: a reader held back by a busy sender
    // must not turn its open batches into small ones.
    if (d.free && this.planner.ready === 0) this.planner.flushDue();
    while (d.free) {
      const b = this.planner.take();
      if (b === undefined) return;
      d.start(this.#job(b));
    }
  }

  #job(b: ActionBatch): SendJob {
    return { kind: b.kind, leads: b.leads, done: () => this.planner.settled(b.id) };
  }

  /** The index state of a planner batch's leads: ids, status, origin, as of now. */
  #prepare(job: SendJob): void {
    const known: string[] = [];
    for (const l of job.leads) {
      const lead = l as PlannedLead;
      if (lead.ordinal === undefined) return; // staged: planned() filled them
      lead.indexed = this.planner.statusOf(lead.email);
      lead.origin = null;
      lead.leadId = null;
      lead.fieldSet = null;
      if (lead.indexed !== null) known.push(lead.email);
    }
    if (known.length === 0) return;
    const states = this.#o.store.leadStates(known);
    for (const l of job.leads) {
      const s = states.get(l.email);
      if (s === undefined) continue;
      l.indexed = s.status;
      l.origin = s.origin;
      l.leadId = s.leadId;
      l.fieldSet = s.fieldSet;
    }
  }

  #settled(): void {
    const d = this.#dispatch!;
    if (d.failure === undefined) this.#checkpoint();
    this.#start();
    this.#o.onProgress?.(this.#phase);
  }

  #checkpoint(): void {
    this.#o.onCommitted?.({ rows: this.#rowsDone, lowWater: this.lowWater() });
  }

  /** The smallest input ordinal not settled yet (Infinity: none). */
  lowWater(): number {
    const staged = this.#stagedSent ? Infinity : this.#firstStaged;
    return Math.min(this.planner.lowWater(), staged);
  }

  async #throwIfStopped(): Promise<void> {
    const d = this.#dispatch;
    if (!this.#stopping && d?.failure === undefined) return;
    await d?.idle();
    if (d?.failure !== undefined) {
      const e = d.failure.error;
      if (e instanceof CreditsExhaustedError) {
        // Said once every batch in flight has ended, so the counts are final.
        const s = this.#o.stats;
        throw new CreditsExhaustedError(
          `Smartlead's lead credit limit is reached: ${s.added} new leads went in this run, ` +
            `${s.failed} were not imported`,
          e.hint,
        );
      }
      throw e;
    }
    this.#throwStopped();
  }

  #throwStopped(): never {
    throw new InterruptedError(String(this.#o.signal?.reason ?? "SIGINT"));
  }

  /** Index leads this input lacks: synced ones, this tool's unless `foreign`. */
  missing(opts: { foreign: boolean }): IndexedLead[] {
    const out: IndexedLead[] = [];
    const origin = opts.foreign ? {} : { origin: "tool" as const };
    for (const l of this.#o.store.unstaged({ synced: true, ...origin })) {
      if (this.planner.isAbsent(l.email)) out.push(l);
    }
    return out;
  }

  /** How many synced leads this input lacks were not added by this tool. */
  missingForeign(): number {
    let n = 0;
    for (const l of this.#o.store.unstaged({ synced: true, origin: "foreign" })) {
      if (this.planner.isAbsent(l.email)) n++;
    }
    return n;
  }

  /** After a complete full refresh: drops the index entries (any status) this input lacks. */
  forgetAbsent(): number {
    let after = "";
    let n = 0;
    while (true) {
      const page = this.#o.store.unstagedEmails(after, 4096);
      if (page.length === 0) return n;
      after = page[page.length - 1]!;
      const gone = page.filter((e) => this.planner.isAbsent(e));
      this.#o.store.forget(gone);
      n += gone.length;
    }
  }

  /** Puts the engine's counts into `stats` (rows, valid, duplicates, the plan). */
  syncStats(): void {
    const s = this.#o.stats;
    const f = this.#flow;
    const c = this.planner.counts;
    const p = this.#stagedPlan;
    s.rows = f.rows;
    s.valid = f.valid;
    s.rejected = f.rejected;
    s.duplicatesInInput = c.duplicates + this.#stagedDuplicates;
    s.plannedAdds = c.add + (p?.add ?? 0);
    s.plannedUpdates = c.update + (p?.update ?? 0);
    s.unchanged = c.unchanged + (p?.unchanged ?? 0);
    s.skippedRejected = c.skippedRejected + (p?.skippedRejected ?? 0);
    s.planned = this.#staged === 0 || p !== undefined;
  }

  /**
   * Leads without a field set that the input has unchanged, with their payload: [email,
   * hash, payload] (`IndexStore.setFieldSets` after `fieldNamesOf`).
   */
  unchangedWithoutFieldSet(): Array<[email: string, hash: string, payload: string]> {
    return [...this.#bare].map(([email, [hash, payload]]) => [email, hash, payload]);
  }

  /** The staged part's plan (all of it with `planFirst`), once `plan()` made it. */
  get stagedPlan(): PlanCounts | undefined {
    return this.#stagedPlan;
  }

  /** Bytes of the fingerprint table. */
  get tableBytes(): number {
    return this.#table.bytes;
  }

  /** Rows staged on disk (past the table's cap, or all of them with `planFirst`). */
  get staged(): number {
    return this.#staged;
  }

  close(): void {
    this.#unhook();
  }
}
