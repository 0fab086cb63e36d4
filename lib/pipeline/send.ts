/**
 * Stage: planned batches → Smartlead, and each answer → the index. A lead is recorded as
 * synced only after a 2xx for its batch, decided from the answer's counters and id map
 * (`add_outcome.ts`); leads the answer does not account for are confirmed from the campaign
 * (`confirm.ts`). A 400 that names leads rejects exactly those and resends the rest; one that
 * names nothing is narrowed down by halving. A stale lead id (deleted in Smartlead's UI)
 * turns an update into a re-add and a delete into "already gone".
 */
import { escapeControl } from "../escape.ts";
import { type LeadWrite, namedInRefusal } from "../client/answers.ts";
import {
  type AddLeadsSettings,
  type LeadPayload,
  type SmartleadClient,
  SmartleadRequestError,
} from "../client/smartlead.ts";
import { readRoster, type RosterInfo } from "../client/roster.ts";
import { CreditsExhaustedError, UnavailableError, UsageError } from "../errors.ts";
import type { IndexStore, LeadOrigin, LeadStatus, StagedLead } from "../index/store.ts";
import { clip } from "../redact.ts";
import { decideAdd, type Verdict } from "./add_outcome.ts";
import { fieldNamesOf, withClears } from "./clearing.ts";
import { membership } from "./confirm.ts";
import type { RejectsWriter } from "./rejects.ts";
import { runPool } from "./pool.ts";
import type { RunStats } from "./stats.ts";
import { plural } from "../plural.ts";

interface Outcome {
  email: string;
  hash: string;
  status: LeadStatus;
  leadId?: number | null;
  reason?: string | null;
  origin: LeadOrigin;
  fieldSet?: number | null;
}

/** The origin the index gives a lead it knew before this run (new leads: this tool's). */
const originOf = (lead: StagedLead): LeadOrigin => lead.origin ?? "tool";

/** One lead as it goes out: its payload with clears, and what they cleared. */
interface Item {
  lead: StagedLead;
  payload: LeadPayload;
  cleared: string[];
}

/** Leads of one batch whose add-leads answer did not say what happened to them. */
interface Unconfirmed {
  leads: Array<{ lead: StagedLead; leadId: number | null }>;
  /** How many of them the counters say were in the campaign before (undefined: unknown). */
  slots: number | undefined;
  /** Why the counters say some were refused, if they do. */
  refusal: string | undefined;
  updating: boolean;
  resent: boolean;
}

export interface SenderOptions {
  client: SmartleadClient;
  store: IndexStore;
  campaignId: number;
  settings: AddLeadsSettings;
  stats: RunStats;
  rejects: RejectsWriter;
  verbose?: boolean;
  /** Requests in flight at once (the rate limiter still spaces their starts). */
  concurrency?: number;
  /** Leads per add-leads request for re-adds (stale ids); default 100. */
  batchSize?: number;
  /** Lines for people. */
  log?: (line: string) => void;
  /** The run's stop signal (ends a long campaign export). */
  signal?: AbortSignal;
  /** Told after each update, each delete and each roster page, for a progress display. */
  onProgress?: (phase: "updating" | "deleting" | "roster") => void;
}

/** Smartlead's message out of a refusal, escaped and shortened, for a reason. */
function said(e: SmartleadRequestError, message?: string): string {
  return escapeControl(clip(message ?? e.message.replace(/^.*?: /, ""), 300), true);
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

export class Sender {
  #o: SenderOptions;
  #roster: Promise<number> | undefined;
  #unconfirmed: Unconfirmed[] = [];
  /** Leads known not to be in the campaign when re-added (their id was stale). */
  #gone = new Set<string>();
  /** Writes Smartlead answered without applying (`ok:false`...), with its first message. */
  #notApplied = { count: 0, first: "" };

  constructor(opts: SenderOptions) {
    this.#o = opts;
  }

  /**
   * Sends add batches, up to `concurrency` at a time, each recorded on its own 2xx; then
   * confirms from the campaign the leads the answers did not account for. With `updating`
   * the leads are changed leads re-added to update them (`--update-via add`).
   * Throws on credit exhaustion or when Smartlead stays down (after in-flight batches end).
   */
  async adds(batches: Iterable<StagedLead[]>, opts: { updating?: boolean } = {}): Promise<void> {
    try {
      await runPool(
        batches,
        this.#o.concurrency ?? 1,
        (batch) => this.#addBatch(batch, opts.updating ?? false),
      );
    } catch (e) {
      if (!(e instanceof CreditsExhaustedError)) {
        // Smartlead is down or the run stops: no more requests; they are sent again.
        this.#pending(this.#unconfirmed.splice(0).flatMap((u) => u.leads.map((l) => l.lead)));
        throw e;
      }
      // The leads before the limit went in: confirm those the answer did not account for,
      // then say it once every batch in flight has ended, so the counts are final.
      await this.confirm();
      throw new CreditsExhaustedError(
        `Smartlead's lead credit limit is reached: ${
          plural(this.#o.stats.added, "new lead")
        } went in this run, ` +
          `${this.#o.stats.failed} ${this.#o.stats.failed === 1 ? "was" : "were"} not imported`,
        e.hint,
      );
    }
    await this.confirm();
  }

  #item(lead: StagedLead): Item {
    const parsed = JSON.parse(lead.payload) as LeadPayload;
    const { payload, cleared } = withClears(parsed, this.#o.store.fieldSetNames(lead.fieldSet));
    return { lead, payload, cleared };
  }

  async #addBatch(batch: StagedLead[], updating: boolean): Promise<void> {
    await this.#addItems(batch.map((l) => this.#item(l)), updating);
  }

  /**
   * One add-leads request for `items`; a 400 naming leads rejects those (or, when it names a
   * field this run cleared, sends that lead again without clearing) and resends the rest in
   * one request; a refusal that names nothing is halved.
   */
  async #addItems(items: Item[], updating: boolean): Promise<void> {
    const { client, campaignId, settings } = this.#o;
    while (items.length > 0) {
      const attempt = { resent: false };
      let answer;
      try {
        answer = await client.addLeads(
          campaignId,
          items.map((i) => i.payload),
          { ...settings, return_lead_ids: true },
          attempt,
        );
      } catch (e) {
        if (!(e instanceof SmartleadRequestError && [400, 413, 422].includes(e.status))) {
          // The batch may or may not have been applied; it is sent again.
          this.#pending(items.map((i) => i.lead));
          throw e;
        }
        const named = namedInRefusal(tryJson(e.body));
        if (named.request) {
          this.#pending(items.map((i) => i.lead));
          throw new UsageError(
            `Smartlead refused the request itself, not a lead: ${said(e, named.request.message)}`,
            "no lead was rejected; check the add-leads settings (flags and the config file's " +
              "settings), then run again: the batch is sent again",
          );
        }
        const positions = [...named.leads.keys()];
        if (positions.length > 0 && positions.every((p) => p < items.length)) {
          const refused = new Set<number>();
          for (const [p, { key, message }] of named.leads) {
            const item = items[p]!;
            const field = key.replace(/^lead_list\[\d+\]\.?/, "");
            if (clearedNamed(item.cleared, field)) {
              this.#o.log?.(
                `note: Smartlead refused clearing ${
                  item.cleared.join(", ")
                } of ${item.lead.email} (${said(e, message)}); sending it without clearing`,
              );
              items[p] = { ...item, payload: JSON.parse(item.lead.payload), cleared: [] };
            } else {
              refused.add(p);
              await this.#refuse(item.lead, `Smartlead refused it: ${said(e, message)}`);
            }
          }
          items = items.filter((_, p) => !refused.has(p));
          continue;
        }
        if (items.length > 1) {
          const mid = Math.ceil(items.length / 2);
          await this.#addItems(items.slice(0, mid), updating);
          await this.#addItems(items.slice(mid), updating);
          return;
        }
        await this.#refuse(items[0]!.lead, `Smartlead refused it: ${said(e)}`);
        return;
      }
      await this.#apply(items, answer, attempt.resent, updating);
      return;
    }
  }

  async #apply(
    items: Item[],
    answer: Awaited<ReturnType<SmartleadClient["addLeads"]>>,
    resent: boolean,
    updating: boolean,
  ): Promise<void> {
    const { store, stats } = this.#o;
    let applied = items.map((i) => i.lead);
    let stopped: StagedLead[] = [];
    if (answer.limitExhausted) {
      const n = Math.min(applied.length, answer.stoppedCount ?? applied.length);
      stopped = applied.slice(applied.length - n);
      applied = applied.slice(0, applied.length - n);
    } else if (answer.ok === false) {
      this.#pending(applied);
      throw new UnavailableError(
        `Smartlead did not accept a batch: ${answer.error ?? "ok: false without a reason"}`,
        "run again later; the batch is sent again",
      );
    }
    stats.addCounters(answer.counters);
    if (this.#o.verbose) stats.batches.push(answer.counters);
    const { verdicts, presentSlots, refusal } = decideAdd(applied.map((l) => l.email), answer);
    const outcomes: Outcome[] = [];
    const refused: Array<[StagedLead, string]> = [];
    const members: Array<{ lead: StagedLead; leadId: number | null }> = [];
    const unknown: Array<{ lead: StagedLead; leadId: number | null }> = [];
    for (const [i, lead] of applied.entries()) {
      const v: Verdict = verdicts[i]!;
      if (v.kind === "refused") refused.push([lead, v.reason]);
      else if (v.kind === "unknown") unknown.push({ lead, leadId: v.leadId });
      else if (v.kind === "member") members.push({ lead, leadId: v.leadId });
      else outcomes.push(this.#synced(lead, v.leadId, v.kind === "present", resent, updating));
    }
    outcomes.push(...this.#members(members, presentSlots, resent, updating));
    if (unknown.length > 0) {
      this.#unconfirmed.push({ leads: unknown, slots: presentSlots, refusal, updating, resent });
    }
    for (const [lead, reason] of refused) {
      outcomes.push({
        email: lead.email,
        hash: lead.hash,
        status: "rejected",
        reason,
        origin: originOf(lead),
      });
    }
    store.record(outcomes);
    stats.sent += applied.length;
    for (const [lead, reason] of refused) {
      stats.rejectedBySmartlead++;
      await this.#o.rejects.write({
        source: lead.source,
        line: lead.line,
        reason,
        row: JSON.parse(lead.payload),
      });
    }
    if (stopped.length > 0) {
      this.#pending(stopped);
      throw new CreditsExhaustedError(
        "Smartlead's lead credit limit is reached",
        "add lead credits, then run the same command again: it continues where this run stopped",
      );
    }
  }

  /**
   * The synced outcome of a lead now in the campaign, counted as added or updated. "Already
   * there" means: updated when the index had the lead (or this is an update); added by this
   * tool when an earlier attempt may have applied the batch (this request was resent, or an
   * earlier run's batch was never confirmed); someone else's lead otherwise.
   */
  #synced(
    lead: StagedLead,
    leadId: number | null,
    present: boolean,
    resent: boolean,
    updating: boolean,
  ): Outcome {
    let origin: LeadOrigin = "tool";
    let updated = false;
    if (present) {
      if (lead.indexed === "synced" || (updating && !ours(lead, resent))) {
        [origin, updated] = [originOf(lead), true];
      } else if (!ours(lead, resent)) [origin, updated] = ["foreign", true];
    }
    if (updated) this.#o.stats.updated++;
    else this.#o.stats.added++;
    return {
      email: lead.email,
      hash: lead.hash,
      status: "synced",
      leadId: leadId ?? lead.leadId ?? null,
      origin,
      fieldSet: this.#o.store.fieldSetId(fieldNamesOf(lead.payload)),
    };
  }

  /**
   * Leads in the campaign when the counters say only how many of them were there before
   * (`slots`), not which: the leads the index had take those slots first (updated), then
   * the ones an earlier attempt may have added (added by this tool); the others are counted
   * exactly (updated while slots remain, added after) but, not knowing which were there,
   * all kept as someone else's, so that `--delete-missing` never deletes a lead this tool
   * did not add. With `slots` unknown, those others count as added, someone else's.
   */
  #members(
    group: ReadonlyArray<{ lead: StagedLead; leadId: number | null }>,
    slots: number | undefined,
    resent: boolean,
    updating: boolean,
  ): Outcome[] {
    // A lead re-added after its id proved stale was not there: it joined with this request.
    const rank = (l: StagedLead) =>
      this.#gone.has(l.email)
        ? 1
        : l.indexed === "synced" || updating
        ? 0
        : ours(l, resent)
        ? 1
        : 2;
    const sorted = [...group].sort((a, b) => rank(a.lead) - rank(b.lead));
    let left = slots;
    const out: Outcome[] = [];
    const others = sorted.filter((m) => rank(m.lead) === 2);
    for (const m of sorted) {
      if (rank(m.lead) < 2) {
        const gone = this.#gone.has(m.lead.email);
        const present = !gone && (left === undefined ? rank(m.lead) === 0 : left > 0);
        if (present && left !== undefined) left--;
        out.push(this.#synced(m.lead, m.leadId, present, resent, updating));
      }
    }
    const ambiguous = left === undefined || (left > 0 && left < others.length);
    for (const m of others) {
      const present = left !== undefined && left > 0;
      if (present) left!--;
      const outcome = this.#synced(m.lead, m.leadId, present, resent, updating);
      if (ambiguous) outcome.origin = "foreign";
      out.push(outcome);
    }
    return out;
  }

  /**
   * Decides, from the campaign itself, the leads whose add-leads answers did not say what
   * happened to them: in the campaign → synced (attributed as `#members` does); not in it →
   * refused (Smartlead took the request but not the lead).
   */
  async confirm(): Promise<void> {
    const groups = this.#unconfirmed;
    if (groups.length === 0) return;
    this.#unconfirmed = [];
    const all = groups.flatMap((g) => g.leads);
    let found;
    try {
      found = await membership(this.#o.client, this.#o.campaignId, all.map((p) => p.lead.email));
    } catch (e) {
      this.#pending(all.map((p) => p.lead));
      throw e;
    }
    const outcomes: Outcome[] = [];
    const refused: Array<[StagedLead, string]> = [];
    for (const g of groups) {
      const members: Array<{ lead: StagedLead; leadId: number | null }> = [];
      for (const p of g.leads) {
        const m = found.get(p.lead.email);
        if (m?.member) members.push({ lead: p.lead, leadId: m.leadId });
        else {
          refused.push([
            p.lead,
            g.refusal ??
              "Smartlead accepted the request but the lead is not in the campaign (its answer gave no reason)",
          ]);
        }
      }
      outcomes.push(...this.#members(members, g.slots, g.resent, g.updating));
    }
    this.#o.stats.confirmed += all.length;
    this.#o.store.record(outcomes);
    this.#o.log?.(
      `confirmed ${all.length} leads from the campaign: Smartlead's answer did not say what it did with them`,
    );
    for (const [lead, reason] of refused) await this.#refuse(lead, reason);
  }

  #pending(batch: readonly StagedLead[]): void {
    this.#o.stats.failed += batch.length;
    this.#o.store.record(
      batch.map((b) => ({
        email: b.email,
        hash: b.hash,
        status: "pending" as const,
        leadId: b.leadId,
        origin: originOf(b),
      })),
    );
  }

  async #refuse(lead: StagedLead, reason: string): Promise<void> {
    this.#o.stats.rejectedBySmartlead++;
    this.#o.store.record([
      { email: lead.email, hash: lead.hash, status: "rejected", reason, origin: originOf(lead) },
    ]);
    await this.#o.rejects.write({
      source: lead.source,
      line: lead.line,
      reason,
      row: JSON.parse(lead.payload),
    });
  }

  /**
   * Fills lead ids from the campaign (once per run, shared by concurrent callers): its
   * export in one request, else the roster page by page (`lib/client/roster.ts`).
   */
  loadRoster(): Promise<number> {
    this.#roster ??= (async () => {
      let n = 0;
      const info: RosterInfo = { source: "export", skipped: 0, unreadable: 0 };
      const { client, campaignId, store, log, signal } = this.#o;
      for await (
        const batch of readRoster(client, campaignId, info, {
          ...(log ? { log } : {}),
          ...(signal ? { signal } : {}),
          progress: (read, total) => {
            [this.#o.stats.rosterRead, this.#o.stats.rosterTotal] = [read, total];
            this.#o.onProgress?.("roster");
          },
        })
      ) {
        n += store.setLeadIds(batch.map((l) => [l.email, l.leadId]));
      }
      return n;
    })();
    return this.#roster;
  }

  /**
   * Updates changed leads through `POST /campaigns/{cid}/leads/{id}`, one request each.
   * Leads whose id is unknown get it from the roster; leads no longer in the campaign (no
   * id, or a stale one) are added again with their new data.
   */
  async updates(batches: Iterable<StagedLead[]>): Promise<void> {
    const readd: StagedLead[] = [];
    const leads = (function* () {
      for (const batch of batches) yield* batch;
    })();
    await runPool(leads, this.#o.concurrency ?? 1, async (lead) => {
      const again = await this.#update(lead);
      if (again) readd.push(again);
      this.#o.stats.updatesDone++;
      this.#o.onProgress?.("updating");
    });
    const size = this.#o.batchSize ?? 100;
    const chunks = (function* () {
      for (let i = 0; i < readd.length; i += size) yield readd.slice(i, i + size);
    })();
    await this.adds(chunks);
  }

  /** One update; returns the lead when it has to be added again instead. */
  async #update(lead: StagedLead): Promise<StagedLead | undefined> {
    const { client, store, campaignId, stats } = this.#o;
    let leadId = lead.leadId;
    if (leadId === null) {
      await this.loadRoster();
      leadId = store.lookup(lead.email)?.lead_id ?? null;
    }
    if (leadId === null) return lead;
    let item = this.#item(lead);
    let outcome: LeadWrite;
    while (true) {
      try {
        outcome = await client.updateLead(campaignId, leadId, item.payload);
        break;
      } catch (e) {
        if (e instanceof SmartleadRequestError && [400, 422].includes(e.status)) {
          const named = namedInRefusal(tryJson(e.body));
          const key = named.request?.key ?? [...named.leads.values()][0]?.key ?? "";
          if (clearedNamed(item.cleared, key)) {
            this.#o.log?.(
              `note: Smartlead refused clearing ${item.cleared.join(", ")} of ${lead.email} (${
                said(e)
              }); sending it without clearing`,
            );
            item = { ...item, payload: JSON.parse(lead.payload), cleared: [] };
            continue;
          }
          await this.#refuse(lead, `Smartlead refused the update: ${said(e)}`);
          return undefined;
        }
        this.#pending([lead]);
        throw e;
      }
    }
    switch (outcome.kind) {
      case "ok":
        store.record([{
          email: lead.email,
          hash: lead.hash,
          status: "synced",
          leadId,
          origin: originOf(lead),
          fieldSet: store.fieldSetId(fieldNamesOf(lead.payload)),
        }]);
        stats.updated++;
        stats.sent++;
        return undefined;
      case "stale":
        // Not a member any more: added again with its new data (an add-leads 2xx names its
        // new id, or the lead was in the campaign after all and its data is overwritten).
        store.clearLeadIds([lead.email]);
        stats.staleIds++;
        this.#gone.add(lead.email);
        return { ...lead, leadId: null };
      case "not_applied":
        this.#notApplied.count++;
        this.#notApplied.first ||= `${lead.email}: ${outcome.message}`;
        this.#pending([lead]);
        return undefined;
      case "limit":
        this.#pending([lead]);
        throw new CreditsExhaustedError(
          `Smartlead's lead credit limit is reached: ${outcome.message}`,
          "add lead credits, then run the same command again: it continues where this run stopped",
        );
    }
  }

  /**
   * Deletes leads from the campaign and forgets them. A stale id counts as already gone;
   * a bare 404 is confirmed with `GET /leads/?email=` first.
   */
  async deletes(leads: ReadonlyArray<{ email: string; lead_id: number | null }>): Promise<void> {
    const { store, stats } = this.#o;
    for (const lead of leads) {
      let leadId = lead.lead_id;
      if (leadId === null) {
        await this.loadRoster();
        leadId = store.lookup(lead.email)?.lead_id ?? null;
      }
      const result = leadId === null ? "deleted" : await this.#delete(lead.email, leadId);
      if (result === "kept") continue;
      if (result === "stale") stats.staleIds++;
      store.forget([lead.email]);
      stats.deleted++;
      this.#o.onProgress?.("deleting");
    }
  }

  /** One delete: "stale" when the lead was gone already, "kept" when it was not applied. */
  async #delete(email: string, leadId: number): Promise<"deleted" | "stale" | "kept"> {
    const { client, campaignId } = this.#o;
    let outcome = await client.deleteLead(campaignId, leadId);
    if (outcome.kind === "stale" && !outcome.sure) {
      // A bare 404: ask Smartlead whether the lead is still in the campaign, and by what id.
      const m = (await membership(client, campaignId, [email])).get(email);
      if (!m?.member) return "stale";
      if (m.leadId !== leadId) outcome = await client.deleteLead(campaignId, m.leadId);
    }
    if (outcome.kind === "ok") return "deleted";
    if (outcome.kind === "stale" && outcome.sure) return "stale";
    this.#notApplied.count++;
    this.#notApplied.first ||= `delete ${email}: ${
      outcome.kind === "stale" ? `${outcome.message}, yet still in the campaign` : outcome.message
    }`;
    return "kept";
  }

  /** Writes Smartlead answered without applying so far (`finish` fails the run on them). */
  get unapplied(): number {
    return this.#notApplied.count;
  }

  /** After every phase: writes Smartlead answered without applying fail the run (exit 5). */
  finish(): void {
    const { count, first } = this.#notApplied;
    if (count === 0) return;
    throw new UnavailableError(
      `Smartlead did not apply ${count} write${count === 1 ? "" : "s"} (first: ${first})`,
      "run the same command again: they are sent again; the rest of this run is recorded",
    );
  }
}

/** "Ours" when already in the campaign: an earlier attempt of this tool may have added it. */
function ours(lead: StagedLead, resent: boolean): boolean {
  return resent || (lead.indexed === "pending" && originOf(lead) === "tool");
}

/** Whether a refusal's key (`first_name`, `custom_fields`, `custom_fields.X`) is a clear. */
function clearedNamed(cleared: readonly string[], field: string): boolean {
  if (cleared.length === 0 || field === "") return false;
  if (cleared.includes(field)) return true;
  return field === "custom_fields" && cleared.some((c) => c.startsWith("custom_fields."));
}
