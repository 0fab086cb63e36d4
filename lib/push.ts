/**
 * `push`: setup (options, inputs, state directory, rejects file, lock, campaign, index,
 * client, progress, stop signal), then the streaming engine (lib/engine/sync.ts): read →
 * parse → map and validate → rejects → plan → batches sent while reading → each 2xx
 * recorded → end of input: guard rails, the last batches, deletes → report.
 */
import { type AddLeadsSettings, DEFAULT_BASE_URL, SmartleadClient } from "./client/smartlead.ts";
import { ExitCode, SyncError, UsageError } from "./errors.ts";
import { acquireLock, type HeldLock } from "./index/lock.ts";
import { dirname, fileExists, resolveIndexPath } from "./index/paths.ts";
import { IndexStore } from "./index/store.ts";
import { environmentError, osCause } from "./os_errors.ts";
import { makePrivateDir } from "./private_files.ts";
import { type Format, resolveInputs } from "./input/source.ts";
import type { MapOverrides } from "./mapping.ts";
import {
  checkDeletes,
  checkMirror,
  checkRejects,
  DeleteLimitError,
  type Limit,
} from "./pipeline/guard_rails.ts";
import { RejectsWriter } from "./pipeline/rejects.ts";
import { buildSummary, type Summary } from "./pipeline/report.ts";
import { Sender } from "./pipeline/send.ts";
import { RunStats } from "./pipeline/stats.ts";
import { withoutCredentials } from "./redact.ts";
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
  rejectsPath?: string | undefined;
  dryRun?: boolean;
  mode?: SyncMode;
  deleteMissing?: boolean;
  /**
   * The most leads `deleteMissing` may delete, as a count or a share of the indexed leads;
   * default: 10% of them, at most 1,000. Over it the run stops before any write (exit 8).
   */
  maxDeletes?: Limit;
  /** With `deleteMissing`, also delete leads this tool did not add to the campaign. */
  deleteForeign?: boolean;
  /** Rows rejected before the run fails (exit 2) without writing; default: every row. */
  maxRejects?: Limit;
  retryRejected?: boolean;
  /** Index directory or file; default under $XDG_STATE_HOME. */
  state?: string | undefined;
  /** Where `rejectsPath` and `state` came from, for messages (default: the flags). */
  origins?: { rejects?: string; state?: string };
  settings?: AddLeadsSettings;
  maxAttempts?: number;
  timeoutMs?: number;
  backoffBaseMs?: number;
  stdin?: ReadableStream<Uint8Array>;
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
   * Engine settings for tests and benchmarks: the fingerprint table's memory cap, the age
   * at which a batch goes out unfilled, updates kept back, how the index is read, the parse
   * worker (default: off, see `inputRows`).
   */
  engine?: Partial<Pick<EngineOptions, "tableBytes" | "maxAgeMs" | "holdUpdates" | "indexMode">> & {
    worker?: boolean;
  };
}

/** What a progress display shows. */
export interface Progress {
  phase: "reading" | "planning" | "sending" | "done";
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
      "set SMARTLEAD_API_KEY (or pass --api-key), or use --dry-run",
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
  const rejects = await RejectsWriter.open(opts.rejectsPath, opts.origins?.rejects);
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
  let shown: Progress["phase"] = "reading";
  const progress = (phase: Progress["phase"]) =>
    opts.onProgress?.({
      phase: shown = phase,
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
      progress(shown);
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
  const fullRefresh = mode === "full-refresh";
  const deleteMissing = opts.deleteMissing ?? false;
  const sender = client && !dryRun ? newSender(stats) : undefined;
  function newSender(counts: RunStats): Sender {
    return new Sender({
      client: client!,
      store,
      campaignId: opts.campaignId,
      settings: opts.settings ?? {},
      stats: counts,
      rejects,
      verbose: opts.verbose ?? false,
      concurrency: opts.concurrency ?? 4,
    });
  }
  let engine: SyncEngine | undefined;
  const { worker, ...engineSettings } = opts.engine ?? {};
  const summarize = () => {
    engine?.syncStats();
    return buildSummary(stats, {
      campaignId: opts.campaignId,
      mode,
      dryRun,
      requests: client?.requests ?? 0,
      retries: client?.retries ?? 0,
      waitedMs: client?.limiter.waitedMs ?? 0,
      rejectsPath: opts.rejectsPath,
      indexPath: dryRun && store.path === ":memory:" ? undefined : indexPath,
      startedAt,
      exitCode,
      ...(failure ? { error: failure.message } : {}),
    });
  };
  try {
    // Read → parse → map and validate → rejects → plan, and send while reading: batches
    // go out as they fill. Guard rails that need the whole input before the first write
    // (--delete-missing, --max-rejects) make the engine plan everything first.
    engine = new SyncEngine({
      store,
      stats,
      sender,
      resender: newSender,
      map: opts.map ?? [],
      tags: opts.tags ?? [],
      fullRefresh,
      retryRejected: opts.retryRejected ?? false,
      planFirst: !dryRun && (deleteMissing || opts.maxRejects !== undefined),
      batchSize,
      concurrency: opts.concurrency ?? 4,
      inputBytes: stats.bytesTotal,
      reject: (r) => rejects.write(r),
      signal: opts.signal,
      onProgress: (phase) => {
        bytesRead = engine?.bytesRead ?? 0;
        progress(phase);
      },
      ...engineSettings,
    });
    await engine.read(
      inputRows(sources, {
        ...(opts.format ? { format: opts.format } : {}),
        ...(opts.stdin ? { stdin: opts.stdin } : {}),
        worker,
      }),
    );

    // End of input. Guard rails on the input: too many rejects, or nothing valid to mirror.
    // (Batches sent while reading held valid rows; with --max-rejects nothing is sent yet.)
    engine.syncStats();
    checkRejects(stats.rows, stats.rejected, opts.maxRejects, rejects.sample[0]);
    checkMirror(stats.valid, { deleteMissing, fullRefresh });

    // Every row is planned; then the leads this input lacks.
    progress("planning");
    engine.plan();
    opts.debug?.(
      `engine: index ${engine.indexMode}, table ${(engine.tableBytes / 1048576).toFixed(1)} MB, ` +
        `${engine.staged} rows staged on disk`,
    );
    const missing = deleteMissing ? engine.missing({ foreign: opts.deleteForeign ?? false }) : [];
    stats.plannedDeletes = missing.length;
    stats.keptForeign = deleteMissing && !opts.deleteForeign ? engine.missingForeign() : 0;
    if (dryRun) stats.wouldDelete = missing.map((m) => m.email);
    if (dryRun && missing.length > 0) {
      log(`would delete ${missing.length} leads absent from this input:`);
      for (const m of missing.slice(0, 1000)) log(`  ${m.email}`);
      if (missing.length > 1000) log(`  ... and ${missing.length - 1000} more`);
    }
    // The deletion limit, checked before any write (and shown by the dry run).
    try {
      // (The synced leads are counted only when there is something to delete.)
      checkDeletes(missing.length, missing.length && store.statusCounts().synced, opts.maxDeletes);
    } catch (e) {
      if (e instanceof DeleteLimitError && !dryRun) {
        stats.wouldDelete = missing.map((m) => m.email);
        log(
          `the plan: add ${stats.plannedAdds}, update ${stats.plannedUpdates}, delete ${missing.length}:`,
        );
        for (const m of missing.slice(0, 20)) log(`  ${m.email}`);
        if (missing.length > 20) log(`  ... and ${missing.length - 20} more (see --dry-run)`);
      }
      throw e;
    }
    if (dryRun) return summarize();

    // The rest of the batches; then the deletes, and a full refresh's forgetting.
    await engine.send();
    if (missing.length > 0) {
      await sender!.deletes(missing);
      log(`deleted ${stats.deleted} leads absent from this input`);
    }
    if (fullRefresh) engine.forgetAbsent();
    progress("done");
    return summarize();
  } catch (thrown) {
    await engine?.halt();
    engine?.settleCounts();
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
