/**
 * The streaming planner: decides, as each valid lead streams past, whether it is added,
 * updated, unchanged or skipped (refused before), and hands out action batches flushed by
 * size and age. Whole-input semantics sit on top: the later duplicate wins, a full refresh
 * resends everything, and at end of input `isAbsent` tells the index's leads this input
 * lacks (for --delete-missing and a full refresh's mirror).
 *
 * The rules are those of `IndexStore.plan()` (SQL), per email, against the index state:
 *   no entry, or full refresh        → add
 *   synced, same payload hash        → unchanged
 *   synced, other hash               → update
 *   pending with a lead id           → update;  pending without → add
 *   refused (rejected): --retry-rejected or another hash → add;  else skip_rejected
 *
 * State per email lives in a `FingerprintTable` (see `flags.ts` for the bits): the index's
 * hash, status and lead-id presence (loaded in bulk by `index_load.ts`, or filled per window
 * by the caller), the ordinal of the last input row, the category counted for the email.
 *
 * Duplicates (the later row wins). A lead handed out in a batch is "active" until its batch
 * is settled. A later row for an active email:
 *   - whose earlier row is still in an open (not yet taken) batch: replaces it in place, or
 *     removes it when the later row needs no action: exactly the current semantics;
 *   - whose earlier row is in flight: is held (a still later row replaces it) until that
 *     batch is settled, then planned against the index state the commit left. So two
 *     versions of one lead are never in flight at once, and the last version sent is the last
 *     row's. The price: a duplicate whose earlier version was already sent costs a second
 *     request (counted in `resent`), where staging the whole input first would have sent one.
 * Nothing is held until end of input, so a front end can release checkpoints progressively:
 * every row with an ordinal below `lowWater()` is settled (sent and committed, or needing no
 * action, or superseded by a later row).
 */
import type { LeadStatus, StagedLead } from "../index/store.ts";
import { emailFingerprint, hashHex, parseHashHex } from "./fingerprint.ts";
import { ABSENT, type FingerprintTable, FULL } from "./fingerprint_table.ts";
import {
  ACTIVE,
  CAT_ADD,
  CAT_MASK,
  CAT_SHIFT,
  CAT_SKIP,
  CAT_UNCHANGED,
  CAT_UPDATE,
  HAS_LEAD_ID,
  KEEP,
  SENT,
  STATUS_MASK,
  STATUS_NONE,
  STATUS_PENDING,
  STATUS_SYNCED,
  statusBits,
} from "./flags.ts";

/** One valid lead as the mapper leaves it (`MapOut` is one). */
export interface LeadInput {
  readonly email: string;
  readonly hash: Uint32Array;
  payload(): string;
}

export type ActionKind = "add" | "update";

/** A lead handed out for sending: what the sender takes, plus where it came from. */
export interface PlannedLead extends StagedLead {
  action: ActionKind;
  /** The input row's ordinal (1-based, counted by the caller, rejects included). */
  ordinal: number;
  /** The index has a lead id for the email (fetch it in bulk before sending). */
  hasLeadId: boolean;
  hashHi: number;
  hashLo: number;
  /**
   * Smartlead already answered for this email in this run (an earlier row's version was
   * sent): this send replaces that version (counted in `resent`).
   */
  resend?: boolean;
}

export interface ActionBatch {
  id: number;
  kind: ActionKind;
  leads: PlannedLead[];
}

export interface PlanCounts {
  add: number;
  update: number;
  unchanged: number;
  skippedRejected: number;
  /** Valid rows whose email an earlier valid row already had. */
  duplicates: number;
  /** Leads sent again because a later row changed them after their first version went out. */
  resent: number;
}

export interface PlannerOptions {
  table: FingerprintTable;
  fullRefresh: boolean;
  retryRejected: boolean;
  /** False (dry run): decide and count only; no batch is built. */
  emit: boolean;
  addBatchSize: number;
  updateBatchSize: number;
  /** An open batch older than this is handed out by `flushDue` even when not full. */
  maxAgeMs: number;
  /**
   * Updates kept back until end of input, at most this many (then the oldest go out): an
   * earlier row of a lead that a later row of the same file restores would otherwise be
   * sent. With it, rerunning a synced file that repeats emails sends nothing. 0: none kept
   * back (a protocol front end that wants checkpoints to advance with every batch).
   */
  holdUpdates: number;
  now: () => number;
}

interface OpenBatch {
  kind: ActionKind;
  leads: Array<PlannedLead | null>;
  live: number;
  openedAt: number;
}

interface Active {
  lead: PlannedLead;
  /** The open or ready batch holding `lead`, or null once it is taken (in flight). */
  open: OpenBatch | null;
  at: number;
  held: PlannedLead | undefined;
}

/** What a decision yields: a category (see flags.ts). */
function decide(flags: number, sameHash: boolean, full: boolean, retry: boolean): number {
  const status = flags & STATUS_MASK;
  if (status === STATUS_NONE || (full && (flags & SENT) === 0)) return CAT_ADD;
  if (status === STATUS_SYNCED) return sameHash ? CAT_UNCHANGED : CAT_UPDATE;
  if (status === STATUS_PENDING) return (flags & HAS_LEAD_ID) !== 0 ? CAT_UPDATE : CAT_ADD;
  // --retry-rejected retries once per run: not again for a later copy of a refused row.
  return (retry && (flags & SENT) === 0) || !sameHash ? CAT_ADD : CAT_SKIP;
}

export class Planner {
  readonly counts: PlanCounts = {
    add: 0,
    update: 0,
    unchanged: 0,
    skippedRejected: 0,
    duplicates: 0,
    resent: 0,
  };
  #o: PlannerOptions;
  #fp = new Uint32Array(2);
  #active = new Map<string, Active>();
  #open: Record<ActionKind, OpenBatch | null> = { add: null, update: null };
  /** Closed batches not taken yet: a later row still replaces its lead in them. */
  #ready: OpenBatch[] = [];
  #inflight = new Map<number, ActionBatch>();
  #nextId = 1;
  #finished = false;
  /** Updates kept back (`holdUpdates`), in input order; `#windowHead` is the oldest. */
  #window: OpenBatch = { kind: "update", leads: [], live: 0, openedAt: 0 };
  #windowHead = 0;

  constructor(opts: PlannerOptions) {
    this.#o = opts;
  }

  /**
   * Plans one valid lead. Returns false, having done nothing, when the table is full (the
   * caller falls back to on-disk staging); `lead.payload()` is called only if it is sent.
   */
  add(lead: LeadInput, source: string, line: number, ordinal: number): boolean {
    const t = this.#o.table;
    emailFingerprint(lead.email, this.#fp);
    const slot = t.insert(this.#fp[0]!, this.#fp[1]!);
    if (slot === FULL) return false;
    const flags = t.flags(slot);
    const hi = lead.hash[0]!;
    const lo = lead.hash[1]!;
    const seen = t.value(slot) !== 0;
    if (seen) this.counts.duplicates++;
    t.setValue(slot, ordinal);
    if ((flags & ACTIVE) !== 0) {
      const a = this.#active.get(lead.email);
      if (a !== undefined) {
        const planned = this.#planned(lead, source, line, ordinal, "add", flags);
        if (a.open === null) a.held = planned; // in flight: wait for its batch to settle
        else this.#replace(slot, a, planned);
        return true;
      }
    }
    const cat = decide(
      flags,
      t.hashEquals(slot, hi, lo),
      this.#o.fullRefresh,
      this.#o.retryRejected,
    );
    this.#count(slot, seen, cat);
    if (this.#o.emit && (cat === CAT_ADD || cat === CAT_UPDATE)) {
      const action = cat === CAT_ADD ? "add" : "update";
      this.#emit(slot, this.#planned(lead, source, line, ordinal, action, flags));
    }
    return true;
  }

  /**
   * Marks an email present in the input on a row rejected for another reason than its
   * email: it is not absent (not deleted by --delete-missing or a full refresh).
   */
  keep(email: string): boolean {
    const t = this.#o.table;
    emailFingerprint(email, this.#fp);
    const slot = t.insert(this.#fp[0]!, this.#fp[1]!);
    if (slot === FULL) return false;
    t.setFlags(slot, t.flags(slot) | KEEP);
    return true;
  }

  /** Hands out open batches older than `maxAgeMs`. */
  flushDue(): void {
    const now = this.#o.now();
    for (const kind of ["add", "update"] as const) {
      const b = this.#open[kind];
      if (b !== null && b.live > 0 && now - b.openedAt >= this.#o.maxAgeMs) this.#close(kind);
    }
  }

  /** End of input: open batches are handed out as they are, and so are later ones at once. */
  finish(): void {
    this.#finished = true;
    while (this.#window.live > 0) this.#releaseOldest();
    this.#close("add");
    this.#close("update");
  }

  /** The next batch to send (its leads are in flight until `settled`), if one is ready. */
  take(): ActionBatch | undefined {
    if (this.#ready.length === 0 && this.#finished) {
      this.#close("add");
      this.#close("update");
    }
    while (true) {
      const open = this.#ready.shift();
      if (open === undefined) return undefined;
      if (open.live === 0) continue; // every lead replaced by a later row that needed nothing
      const leads: PlannedLead[] = [];
      for (const l of open.leads) {
        if (l === null) continue;
        leads.push(l);
        this.#active.get(l.email)!.open = null;
      }
      const b: ActionBatch = { id: this.#nextId++, kind: open.kind, leads };
      this.#inflight.set(b.id, b);
      return b;
    }
  }

  /** Batches handed out and not yet settled. */
  get inFlight(): number {
    return this.#inflight.size;
  }

  /** Batches ready to be taken. */
  get ready(): number {
    return this.#ready.length;
  }

  /**
   * The index status the table holds for an email (as loaded, then as committed in this
   * run), or null when it has none (not indexed, or not in the table).
   */
  statusOf(email: string): LeadStatus | null {
    const t = this.#o.table;
    emailFingerprint(email, this.#fp);
    const slot = t.find(this.#fp[0]!, this.#fp[1]!);
    if (slot === ABSENT) return null;
    const s = t.flags(slot) & STATUS_MASK;
    return s === STATUS_SYNCED
      ? "synced"
      : s === STATUS_PENDING
      ? "pending"
      : s === STATUS_NONE
      ? null
      : "rejected";
  }

  /** Nothing ready, open, in flight or held: after `finish()`, the input is fully planned. */
  get idle(): boolean {
    return this.#active.size === 0 && this.#ready.length === 0;
  }

  /**
   * Smartlead's answers, as the sender records them in the index: the table follows, so
   * that later rows for these emails are planned against what is now true.
   */
  committed(
    outcomes: Iterable<{ email: string; hash: string; status: LeadStatus; leadId?: number | null }>,
  ): void {
    const t = this.#o.table;
    const h = new Uint32Array(2);
    for (const o of outcomes) {
      emailFingerprint(o.email, this.#fp);
      const slot = t.find(this.#fp[0]!, this.#fp[1]!);
      if (slot === ABSENT) continue;
      if (!parseHashHex(o.hash, 0, h)) h.fill(0);
      t.setHash(slot, h[0]!, h[1]!);
      let f = (t.flags(slot) & ~STATUS_MASK) | statusBits(o.status);
      if (o.leadId !== undefined && o.leadId !== null) f |= HAS_LEAD_ID;
      if (o.status !== "pending") f |= SENT;
      t.setFlags(slot, f);
    }
  }

  /**
   * A batch is over (every answer recorded through `committed`, or none: a dry run, an
   * abandoned batch). Rows held behind its leads are planned now.
   */
  settled(batchId: number): void {
    const b = this.#inflight.get(batchId);
    if (b === undefined) return;
    this.#inflight.delete(batchId);
    const t = this.#o.table;
    for (const lead of b.leads) {
      const a = this.#active.get(lead.email);
      if (a === undefined || a.lead !== lead) continue;
      emailFingerprint(lead.email, this.#fp);
      const slot = t.find(this.#fp[0]!, this.#fp[1]!);
      const held = a.held;
      this.#active.delete(lead.email);
      t.setFlags(slot, t.flags(slot) & ~ACTIVE);
      if (held === undefined) continue;
      const flags = t.flags(slot);
      const cat = decide(
        flags,
        t.hashEquals(slot, held.hashHi, held.hashLo),
        this.#o.fullRefresh,
        this.#o.retryRejected,
      );
      this.#count(slot, true, cat);
      if (cat === CAT_ADD || cat === CAT_UPDATE) {
        held.action = cat === CAT_ADD ? "add" : "update";
        held.hasLeadId = (flags & HAS_LEAD_ID) !== 0;
        this.#emit(slot, held);
      }
    }
  }

  /**
   * The smallest input ordinal not yet settled (Infinity when none): a front end may release
   * a checkpoint taken after row N once every row up to N was given to `add`/`keep` and
   * N < lowWater().
   */
  lowWater(): number {
    let low = Infinity;
    for (const a of this.#active.values()) {
      // (a held row is always later than the active one it waits for)
      if (a.lead.ordinal < low) low = a.lead.ordinal;
    }
    return low;
  }

  /**
   * Whether an indexed email is absent from this input: no valid row had it, and no row
   * rejected for another reason did.
   */
  isAbsent(email: string): boolean {
    const t = this.#o.table;
    emailFingerprint(email, this.#fp);
    const slot = t.find(this.#fp[0]!, this.#fp[1]!);
    return slot === ABSENT || (t.value(slot) === 0 && (t.flags(slot) & KEEP) === 0);
  }

  #planned(
    lead: LeadInput,
    source: string,
    line: number,
    ordinal: number,
    action: ActionKind,
    flags: number,
  ): PlannedLead {
    const hashHi = lead.hash[0]!;
    const hashLo = lead.hash[1]!;
    return {
      email: lead.email,
      hash: hashHex(hashHi, hashLo),
      hashHi,
      hashLo,
      source,
      line,
      payload: lead.payload(),
      leadId: null,
      action,
      ordinal,
      hasLeadId: (flags & HAS_LEAD_ID) !== 0,
      resend: false,
    };
  }

  /** A later row for an email whose earlier row sits in an open batch. */
  #replace(slot: number, a: Active, later: PlannedLead): void {
    const t = this.#o.table;
    const flags = t.flags(slot);
    const cat = decide(
      flags,
      t.hashEquals(slot, later.hashHi, later.hashLo),
      this.#o.fullRefresh,
      this.#o.retryRejected,
    );
    this.#count(slot, true, cat);
    const open = a.open!;
    open.leads[a.at] = null;
    open.live--;
    this.#active.delete(later.email);
    t.setFlags(slot, flags & ~ACTIVE);
    if (cat === CAT_ADD || cat === CAT_UPDATE) {
      later.action = cat === CAT_ADD ? "add" : "update";
      this.#emit(slot, later);
    }
  }

  /** Queues a lead for sending; it is active until its batch is settled. */
  #emit(slot: number, lead: PlannedLead): void {
    const t = this.#o.table;
    if ((t.flags(slot) & SENT) !== 0) {
      this.counts.resent++;
      lead.resend = true;
    }
    this.#push(lead);
    t.setFlags(slot, t.flags(slot) | ACTIVE);
  }

  #count(slot: number, seen: boolean, cat: number): void {
    const t = this.#o.table;
    const flags = t.flags(slot);
    const before = (flags & CAT_MASK) >> CAT_SHIFT;
    // A later row needing nothing for a lead already sent in this run: the send stands.
    if (seen && (flags & SENT) !== 0 && (cat === CAT_UNCHANGED || cat === CAT_SKIP)) return;
    if (seen) this.#bump(before, -1);
    this.#bump(cat, 1);
    t.setFlags(slot, (flags & ~CAT_MASK) | (cat << CAT_SHIFT));
  }

  #bump(cat: number, by: number): void {
    const c = this.counts;
    if (cat === CAT_ADD) c.add += by;
    else if (cat === CAT_UPDATE) c.update += by;
    else if (cat === CAT_UNCHANGED) c.unchanged += by;
    else c.skippedRejected += by;
  }

  #push(lead: PlannedLead): void {
    if (lead.action === "update" && this.#o.holdUpdates > 0 && !this.#finished) {
      const w = this.#window;
      this.#active.set(lead.email, { lead, open: w, at: w.leads.length, held: undefined });
      w.leads.push(lead);
      w.live++;
      while (w.live > this.#o.holdUpdates) this.#releaseOldest();
      return;
    }
    const kind = lead.action;
    let b = this.#open[kind];
    if (b === null) {
      b = { kind, leads: [], live: 0, openedAt: this.#o.now() };
      this.#open[kind] = b;
    }
    this.#active.set(lead.email, { lead, open: b, at: b.leads.length, held: undefined });
    b.leads.push(lead);
    b.live++;
    const size = kind === "add" ? this.#o.addBatchSize : this.#o.updateBatchSize;
    if (b.live >= size) this.#close(kind);
  }

  /** Moves the oldest kept-back update into an update batch. */
  #releaseOldest(): void {
    const w = this.#window;
    while (w.leads[this.#windowHead] === null) this.#windowHead++;
    const lead = w.leads[this.#windowHead]!;
    w.leads[this.#windowHead++] = null;
    w.live--;
    const finished = this.#finished;
    this.#finished = true; // straight to a batch
    this.#push(lead);
    this.#finished = finished;
    if (this.#windowHead > 1024 && this.#windowHead * 2 > w.leads.length) {
      w.leads = w.leads.slice(this.#windowHead);
      for (let i = 0; i < w.leads.length; i++) {
        const l = w.leads[i];
        if (l) this.#active.get(l.email)!.at = i;
      }
      this.#windowHead = 0;
    }
  }

  /**
   * Closes the open batch of `kind`: it is ready, and goes in flight when taken (until
   * then a later row still replaces or removes its leads).
   */
  #close(kind: ActionKind): void {
    const b = this.#open[kind];
    this.#open[kind] = null;
    if (b === null || b.live === 0) return;
    this.#ready.push(b);
  }
}
