/**
 * `push`: setup (options, inputs, state directory, rejects file, lock, campaign, index,
 * client, progress, stop signal), then the streaming engine (lib/engine/sync.ts): read →
 * parse → map and validate → rejects → plan → batches sent while reading → each 2xx
 * recorded → end of input: guard rails, the last batches, removals → report.
 *
 * What needs the whole input before the first write (a removal action, --max-rejects,
 * --update-via add, leads this tool paused or unsubscribed, leads without a field set)
 * makes the engine plan everything first (`planFirst`): the rows are staged and planned in
 * SQL, then sent phase by phase (resumes, adds, updates, removals).
 */
import {
  type AddLeadsSettings,
  DEFAULT_BASE_URL,
  DEFAULT_RATE,
  SmartleadClient,
} from "./client/smartlead.ts";
import { ExitCode, InterruptedError, SyncError, UsageError } from "./errors.ts";
import { acquireLock, type HeldLock } from "./index/lock.ts";
import { dirname, fileExists, resolveIndexPath } from "./index/paths.ts";
import { IndexStore, type MissingAction } from "./index/store.ts";
import { environmentError, osCause } from "./os_errors.ts";
import { makePrivateDir } from "./private_files.ts";
import type { InputOptions } from "./input/parse.ts";
import { type Format, resolveInputs } from "./input/source.ts";
import type { MapOverrides } from "./mapping.ts";
import {
  checkDeletes,
  checkMirror,
  checkRejects,
  DeleteLimitError,
  type Limit,
} from "./pipeline/guard_rails.ts";
import { fieldNamesOf } from "./pipeline/clearing.ts";
import { describeCost, planCost, type UpdateVia } from "./pipeline/estimate.ts";
import { RejectsWriter } from "./pipeline/rejects.ts";
import { buildSummary, type Summary } from "./pipeline/report.ts";
import { Remover } from "./pipeline/remove.ts";
import { Sender } from "./pipeline/send.ts";
import { RunStats } from "./pipeline/stats.ts";
import { withoutCredentials } from "./redact.ts";
import { plural } from "./plural.ts";
import { type EngineOptions, SyncEngine } from "./engine/sync.ts";
import { inputRows } from "./engine/worker_rows.ts";

export type SyncMode = "incremental" | "full-refresh";

/** Everything `push` needs; the CLI fills it from flags, environment and config. */
export interface PushOptions {
  inputs: readonly string[];
  campaignId: number;
  apiKey?: string | undefined;
  baseUrl?: string;
  /** Allow a plain `http://` base URL for a host other than loopback (the key goes in clear). */
  allowInsecureHttp?: boolean;
  format?: Format | undefined;
  map?: MapOverrides;
  tags?: readonly string[];
  batchSize?: number;
  /** Requests in flight at once; default 4. */
  concurrency?: number;
  rate?: { requests: number; windowMs: number };
  /** The rejects file; `-` is stdout. */
  rejectsPath?: string | undefined;
  /** Append to the rejects file instead of emptying it (keeps earlier runs' lines). */
  rejectsAppend?: boolean;
  dryRun?: boolean;
  mode?: SyncMode;
  /**
   * What happens to synced leads absent from the input: `ignore` (default), `pause`,
   * `unsubscribe` (from the campaign) or `delete`. Leads this tool paused that come back
   * are resumed whatever the action.
   */
  missing?: MissingAction;
  /** The same as `missing: "delete"` (the older name). */
  deleteMissing?: boolean;
  /**
   * The most leads `missing` may delete, pause or unsubscribe, as a count or a share of the
   * indexed leads; default: 10% of them, at most 1,000. Over it the run stops before any
   * write (exit 8).
   */
  maxDeletes?: Limit;
  /** With `missing`, also act on leads this tool did not add to the campaign. */
  deleteForeign?: boolean;
  /** Rows rejected before the run fails (exit 2) without writing; default: every row. */
  maxRejects?: Limit;
  retryRejected?: boolean;
  /**
   * How changed leads are sent: `lead` (default), one documented update request per lead;
   * `add`, re-added through add-leads in batches (Smartlead overwrites their data).
   */
  updateVia?: UpdateVia;
  /** Index directory or file; default under $XDG_STATE_HOME. */
  state?: string | undefined;
  /** Where `rejectsPath` and `state` came from, for messages (default: the flags). */
  origins?: { rejects?: string; state?: string };
  settings?: AddLeadsSettings;
  maxAttempts?: number;
  /** How long 429s are waited out before exit 5; default 15 min. */
  maxWaitMs?: number;
  /** The period a learnt rate budget is counted over; default 60 s. */
  rateWindowMs?: number;
  timeoutMs?: number;
  backoffBaseMs?: number;
  stdin?: ReadableStream<Uint8Array>;
  /** How inputs are read: encoding, CSV delimiter, header, preamble, nested JSON. */
  input?: InputOptions;
  /** Custom fields per lead; a row with more is rejected before sending. Default 200. */
  maxCustomFields?: number;
  verbose?: boolean;
  /** Lines for people (stderr). */
  log?: (line: string) => void;
  /** Request/response lines for `--debug`. */
  debug?: (line: string) => void;
  /** Called as the run advances, for a progress display. */
  onProgress?: (p: Progress) => void;
  /**
   * Asks the run to stop: no new batch starts, the ones in flight finish and are recorded,
   * then `push` throws `InterruptedError` (the abort reason names the signal). A wait for the
   * rate limit, a `Retry-After` or a retry ends at once; its batch is sent again next run.
   */
  signal?: AbortSignal;
  /**
   * Checkpoints for protocol front ends (Airbyte, Singer): called with N whenever every
   * input row with ordinal < N (0-based, in the order rows were read; one NDJSON line is one
   * row) has been committed to the index or classified (rejected, unchanged, duplicate).
   * Never called with a smaller N than before. The engine calls it as batches are recorded
   * (while no write was left unapplied), and with every row once the run's writes are done;
   * a run that plans first (see the module comment) only then.
   */
  onCommitted?: (rowsDone: number) => void;
  /**
   * Engine settings for front ends, tests and benchmarks: the fingerprint table's memory
   * cap, the age at which a batch goes out unfilled, updates kept back, how the index is
   * read, the parse worker (default: off, see `inputRows`).
   */
  engine?: Partial<Pick<EngineOptions, "tableBytes" | "maxAgeMs" | "holdUpdates" | "indexMode">> & {
    worker?: boolean;
    /** A live stream (protocol front ends): rows go on after this long without more input. */
    idleFlushMs?: number;
  };
}

/** What a progress display shows. */
export interface Progress {
  /**
   * `sending` adds, `updating` and `deleting` one request per lead, `roster`: reading the
   * campaign's leads (for lead ids).
   */
  phase: "reading" | "planning" | "sending" | "updating" | "deleting" | "roster" | "done";
  stats: RunStats;
  bytesRead: number;
  bytesTotal: number | undefined;
  /** `performance.now()` until which the rate limiter or a Retry-After holds the run. */
  waitingUntil: number;
  waitReason: string | undefined;
}

/** An error that ends a run, with the summary of what the run did before it. */
export class PushFailed extends Error {
  readonly exitCode: number;
  readonly hint: string | undefined;
  constructor(readonly error: SyncError, readonly summary: Summary) {
    super(error.message, { cause: error });
    this.name = "PushFailed";
    this.exitCode = error.exitCode;
    this.hint = error.hint;
  }
}

/**
 * Pushes the inputs into the campaign and returns the summary.
 * @throws SyncError (usage, auth, campaign, locked, unavailable) when the run cannot start:
 *   local checks come first, then the lock, then the campaign; the lock is given back.
 * @throws PushFailed carrying the summary and the exit code of what stopped the run.
 */
export async function push(opts: PushOptions): Promise<Summary> {
  const startedAt = performance.now();
  const log = opts.log ?? (() => {});
  const mode = opts.mode ?? "incremental";
  const dryRun = opts.dryRun ?? false;
  const baseUrl = opts.baseUrl ?? DEFAULT_BASE_URL;
  const batchSize = opts.batchSize ?? 100;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 400) {
    throw new UsageError(
      `--batch-size ${batchSize}: must be 1 to 400`,
      "Smartlead takes at most 400 leads per request",
    );
  }
  if (!dryRun && !opts.apiKey) {
    throw new UsageError(
      "no API key",
      "set SMARTLEAD_API_KEY or SMARTLEAD_API_KEY_FILE (or pass --api-key-file), or use --dry-run",
    );
  }
  // Everything local first, before any request and before the lock: the inputs exist and
  // are readable, the state directory can be created, the rejects file can be written.
  const sources = await resolveInputs(opts.inputs);
  const indexPath = resolveIndexPath(opts.state, baseUrl, opts.campaignId);
  if (!dryRun) {
    await makePrivateDir(dirname(indexPath)).catch((e) => {
      throw new UsageError(
        `cannot create the state directory ${dirname(indexPath)}: ${osCause(e)}`,
        `check ${opts.origins?.state ?? "--state"}`,
      );
    });
  }
  const rejects = await RejectsWriter.open(opts.rejectsPath, opts.origins?.rejects, {
    append: opts.rejectsAppend ?? false,
  });
  const stats = new RunStats();
  stats.bytesTotal = sources.every((s) => s.size !== undefined)
    ? sources.reduce((a, s) => a + (s.size ?? 0), 0)
    : undefined;
  const client = opts.apiKey
    ? new SmartleadClient({
      apiKey: opts.apiKey,
      baseUrl,
      ...(opts.rate ? { rate: opts.rate } : {}),
      ...(opts.maxAttempts !== undefined ? { maxAttempts: opts.maxAttempts } : {}),
      ...(opts.maxWaitMs !== undefined ? { maxWaitMs: opts.maxWaitMs } : {}),
      ...(opts.rateWindowMs !== undefined ? { rateWindowMs: opts.rateWindowMs } : {}),
      concurrency: opts.concurrency ?? 4,
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      ...(opts.backoffBaseMs !== undefined ? { backoffBaseMs: opts.backoffBaseMs } : {}),
      ...(opts.debug ? { debug: opts.debug } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.allowInsecureHttp ? { allowInsecureHttp: true } : {}),
    })
    : undefined;
  let waitingUntil = 0;
  let waitReason: string | undefined;
  let bytesRead = 0;
  let phase: Progress["phase"] = "reading";
  const progress = (now: Progress["phase"] = phase) =>
    opts.onProgress?.({
      phase: phase = now,
      stats,
      bytesRead,
      bytesTotal: stats.bytesTotal,
      waitingUntil,
      waitReason,
    });
  if (client) {
    client.limiter.onWait = (ms, reason) => {
      waitingUntil = performance.now() + ms;
      waitReason = reason;
      progress();
    };
  }

  // Then the lock (a second run exits 7 at once, without a request), then the campaign: a
  // wrong key (3) or campaign (4) fails before any input is read. Every failure here gives
  // the lock back as it was found: no note of an unfinished run is left by this one.
  let lock: HeldLock | undefined;
  let opened: IndexStore | undefined;
  try {
    if (!dryRun) lock = acquireLock(indexPath);
    if (client) await client.getCampaign(opts.campaignId);
    if (dryRun) {
      const exists = await fileExists(indexPath);
      opened = exists ? new IndexStore(indexPath, { readOnly: true }) : new IndexStore(":memory:");
    } else {
      opened = new IndexStore(indexPath);
      opened.setMeta("base_url", withoutCredentials(baseUrl));
      opened.setMeta("campaign_id", String(opts.campaignId));
    }
    await rejects.begin();
  } catch (e) {
    opened?.close();
    await rejects.close();
    lock?.release({ restore: true });
    throw e;
  }
  if (lock?.takenOverFrom) {
    log(
      `note: the previous run (pid ${lock.takenOverFrom.pid}, started ${lock.takenOverFrom.started_at}) ended without finishing; continuing its work`,
    );
  }
  const store = opened;
  const runId = dryRun ? undefined : store.startRun(mode);
  let exitCode: number = ExitCode.ok;
  let failure: SyncError | undefined;
  const stopIfAsked = () => {
    if (opts.signal?.aborted) throw new InterruptedError(String(opts.signal.reason ?? "SIGINT"));
  };
  let engine: SyncEngine | undefined;
  /** Once planned, the counts are final: the sender and remover move them (stale ids). */
  let planned = false;
  const summarize = () => {
    if (!planned) engine?.syncStats();
    return buildSummary(stats, {
      campaignId: opts.campaignId,
      mode,
      dryRun,
      requests: client?.requests ?? 0,
      retries: client?.retries ?? 0,
      waitedMs: client?.limiter.waitedMs ?? 0,
      ...(client ? { budget: client.limiter.budget(), refusals: client.limiter.refusals } : {}),
      rejectsPath: opts.rejectsPath,
      indexPath: dryRun && store.path === ":memory:" ? undefined : indexPath,
      startedAt,
      exitCode,
      ...(failure ? { error: failure.message } : {}),
    });
  };
  const fullRefresh = mode === "full-refresh";
  const action: MissingAction = opts.missing ?? (opts.deleteMissing ? "delete" : "ignore");
  const deleteForeign = opts.deleteForeign ?? false;
  const updateVia = opts.updateVia ?? "lead";
  const newSender = (counts: RunStats) =>
    new Sender({
      client: client!,
      store,
      campaignId: opts.campaignId,
      settings: opts.settings ?? {},
      stats: counts,
      rejects,
      verbose: opts.verbose ?? false,
      concurrency: opts.concurrency ?? 4,
      batchSize,
      log,
      ...(opts.signal ? { signal: opts.signal } : {}),
      onProgress: (p) => progress(p),
    });
  const sender = client && !dryRun ? newSender(stats) : undefined;
  /** Senders of leads sent twice in one run (see lib/engine/dispatch.ts). */
  const resenders: Sender[] = [];
  const unapplied = () => (sender?.unapplied ?? 0) + resenders.reduce((a, r) => a + r.unapplied, 0);
  let committed: number | undefined;
  /** Releases checkpoints up to row n: a larger n each time; 0 only as the last call. */
  const commit = (n: number, last = false) => {
    if (committed !== undefined && n <= committed) return;
    if (n === 0 && !last) return;
    committed = n;
    opts.onCommitted?.(n);
  };
  try {
    // Read → parse → map and validate → rejects → plan, and send while reading: batches
    // go out as they fill. What needs the whole input first makes the engine plan it all
    // before the first write (see the module comment).
    const warn = (message: string) => log(`warning: ${message}`);
    stats.missing = action;
    // Synced leads without a field set (indexed before schema 3, or rebuilt from the
    // campaign) get one when the input has them unchanged: tracked while streaming when
    // they are few, else through the staged rows (planFirst).
    const bare = dryRun ? undefined : store.withoutFieldSet(100_000);
    // A rejects bar of 100% can never stop the run (the protocol front ends set it: invalid
    // records are never fatal there), so it needs no planning first.
    const rejectsBar = opts.maxRejects !== undefined &&
      !("percent" in opts.maxRejects && opts.maxRejects.percent >= 100);
    const planFirst = action !== "ignore" || store.needsWholeInput() ||
      (!dryRun && (bare === undefined || rejectsBar || updateVia === "add"));
    const { worker, idleFlushMs, ...engineSettings } = opts.engine ?? {};
    engine = new SyncEngine({
      store,
      stats,
      sender,
      resender: (counts) => {
        const r = newSender(counts);
        resenders.push(r);
        return r;
      },
      map: opts.map ?? [],
      tags: opts.tags ?? [],
      maxCustomFields: opts.maxCustomFields,
      warn,
      fullRefresh,
      retryRejected: opts.retryRejected ?? false,
      missing: action,
      deleteForeign,
      planFirst,
      ...(planFirst ? {} : { withoutFieldSet: bare }),
      batchSize,
      concurrency: opts.concurrency ?? 4,
      inputBytes: stats.bytesTotal,
      reject: (r) => rejects.write(r),
      signal: opts.signal,
      onProgress: (p) => {
        bytesRead = engine?.bytesRead ?? 0;
        progress(p);
      },
      // A checkpoint is released only while Smartlead has applied every write so far.
      onCommitted: (c) => {
        if (unapplied() === 0) commit(Math.min(c.rows, c.lowWater - 1));
      },
      ...engineSettings,
    });
    await engine.read(inputRows(sources, {
      ...(opts.format ? { format: opts.format } : {}),
      ...(opts.stdin ? { stdin: opts.stdin } : {}),
      ...(opts.input ? { input: opts.input } : {}),
      ...(idleFlushMs !== undefined ? { idleFlushMs } : {}),
      warn,
      worker,
    }));

    // End of input. Guard rails on the input: too many rejects, or nothing valid to mirror.
    // (Batches sent while reading held valid rows; with --max-rejects nothing is sent yet.)
    engine.syncStats();
    checkRejects(stats.rows, stats.rejected, opts.maxRejects, rejects.sample[0]);
    checkMirror(stats.valid, { missing: action, fullRefresh });

    // Every row is planned; then the leads this input lacks.
    progress("planning");
    engine.plan();
    planned = true;
    opts.debug?.(
      `engine: index ${engine.indexMode}, table ${(engine.tableBytes / 1048576).toFixed(1)} MB, ` +
        `${engine.staged} rows staged on disk${planFirst ? " (planned first)" : ""}`,
    );
    const indexed = store.statusCounts().synced;
    const staged = engine.stagedPlan;
    const plan = {
      add: stats.plannedAdds,
      update: stats.plannedUpdates,
      unchanged: stats.unchanged,
      skippedRejected: stats.skippedRejected,
      delete: staged?.delete ?? 0,
      remove: staged?.remove ?? 0,
      resume: staged?.resume ?? 0,
    };
    stats.plannedDeletes = plan.delete;
    stats.plannedRemoves = plan.remove;
    stats.plannedResumes = plan.resume;
    stats.cost = planCost(plan, { batchSize, rate: opts.rate ?? DEFAULT_RATE, updateVia });
    // Without planFirst the index holds no lead this tool paused or unsubscribed, and the
    // action is `ignore`: nothing to resume, count or remove.
    const missing = action === "ignore" ? [] : store.missing({ foreign: deleteForeign, action });
    const toResume = planFirst ? store.pausedInInput() : [];
    stats.keptForeign = action !== "ignore" && !deleteForeign ? store.missingForeign() : 0;
    stats.stillUnsubscribed = planFirst ? store.unsubscribedInInput() : 0;
    if (stats.stillUnsubscribed > 0) {
      log(
        `note: ${stats.stillUnsubscribed} leads in this input were unsubscribed from the campaign by an earlier run (--missing unsubscribe); they stay unsubscribed: Smartlead's API cannot resubscribe them`,
      );
    }
    const verb = action;
    const listRemovals = () => {
      stats.wouldRemove = missing.map((m) => m.email);
      if (action === "delete") stats.wouldDelete = stats.wouldRemove;
    };
    if (dryRun) listRemovals();
    if (dryRun && missing.length > 0) {
      log(`would ${verb} ${plural(missing.length, "lead")} absent from this input:`);
      for (const m of missing.slice(0, 1000)) log(`  ${m.email}`);
      if (missing.length > 1000) log(`  ... and ${missing.length - 1000} more`);
    }
    if (dryRun && toResume.length > 0) {
      log(`would resume ${toResume.length} leads paused by an earlier run, back in this input`);
    }
    // The removal limit (--max-deletes, for every action), checked before any write (and
    // shown by the dry run).
    try {
      if (action !== "ignore") checkDeletes(missing.length, indexed, opts.maxDeletes, action);
    } catch (e) {
      if (e instanceof DeleteLimitError && !dryRun) {
        listRemovals();
        log(`the plan: add ${plan.add}, update ${plan.update}, ${verb} ${missing.length}:`);
        for (const m of missing.slice(0, 20)) log(`  ${m.email}`);
        if (missing.length > 20) log(`  ... and ${missing.length - 20} more (see --dry-run)`);
      }
      throw e;
    }
    if (dryRun) return summarize();
    if (stats.cost.cheaper) { for (const line of describeCost(stats.cost)) log(`note: ${line}`); }

    // The rest of the batches; then removals, and a full refresh's forgetting.
    if (!planFirst) {
      store.setFieldSets(
        engine.unchangedWithoutFieldSet().map(([e, h, payload]) => [e, h, fieldNamesOf(payload)]),
      );
      await engine.send();
    } else {
      // Leads indexed before field sets were kept: their unchanged payload is the accepted one.
      store.backfillFieldSets(fieldNamesOf);
      const tick = <T>(it: Iterable<T>, p: Progress["phase"] = "sending") =>
        tapSync(it, () => progress(p), stopIfAsked);
      const remover = new Remover({
        client: client!,
        store,
        campaignId: opts.campaignId,
        stats,
        loadRoster: () => sender!.loadRoster(),
        concurrency: opts.concurrency ?? 4,
        log,
      });
      // Resumes first: a paused lead found gone from the campaign is added again below.
      if (toResume.length > 0) await remover.resume(tick(toResume));
      await sender!.adds(tick(store.planned("add", batchSize)));
      if (updateVia === "add") {
        await sender!.adds(tick(store.planned("update", batchSize)), { updating: true });
      } else {
        if (plan.update > 0) progress("updating");
        await sender!.updates(tick(store.planned("update", 100), "updating"));
      }
      if (missing.length > 0 && action === "delete") {
        progress("deleting");
        await sender!.deletes(missing);
        log(`deleted ${plural(stats.deleted, "lead")} absent from this input`);
      } else if (missing.length > 0 && (action === "pause" || action === "unsubscribe")) {
        await remover.remove(tick(missing), action);
        log(
          `${action === "pause" ? "paused" : "unsubscribed"} ${
            plural(action === "pause" ? stats.paused : stats.unsubscribed, "lead")
          } absent from this input` +
            (stats.alreadyGone ? ` (${stats.alreadyGone} were already gone)` : ""),
        );
      }
    }
    if (fullRefresh) {
      if (planFirst) store.forgetAbsent();
      else engine.forgetAbsent();
    }
    // Throws when Smartlead left writes unapplied: no checkpoint is released for them.
    sender!.finish();
    for (const r of resenders) r.finish();
    // Every row read is now committed or classified (a protocol front end releases states).
    commit(stats.rows, true);
    progress("done");
    return summarize();
  } catch (thrown) {
    await engine?.halt();
    if (!planned) engine?.settleCounts();
    const e = environmentError(thrown, indexPath) ?? thrown;
    if (e instanceof SyncError) {
      failure = e;
      exitCode = e.exitCode;
      throw new PushFailed(e, summarize());
    }
    exitCode = ExitCode.internal;
    throw e;
  } finally {
    engine?.close();
    try {
      // Flushing the last rejects can fail (a full disk): the index and the lock are still
      // closed and given back.
      await rejects.close();
    } finally {
      if (runId !== undefined) {
        try {
          store.finishRun(runId, exitCode, summarize());
        } catch {
          // the summary in the index is informational
        }
      }
      store.close();
      lock?.release();
    }
  }
}

function* tapSync<T>(it: Iterable<T>, f: () => void, before: () => void): Generator<T> {
  for (const x of it) {
    before();
    yield x;
    f();
  }
}
