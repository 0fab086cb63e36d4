/**
 * Typed errors. Each carries the process exit code `cli.ts` turns it into; library code
 * throws them and never exits.
 */

/** Exit codes, one per condition a caller (a cron job, a script) may act on. */
export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2,
  auth: 3,
  campaignNotFound: 4,
  unavailable: 5,
  creditsExhausted: 6,
  locked: 7,
  /** The plan deletes more leads than `--max-deletes` allows; nothing was written. */
  deleteLimit: 8,
  /** `verify`: the index and the campaign differ (like `git diff --exit-code`). */
  verifyDiffers: 9,
  /** Stopped by SIGINT (128 + 2) or SIGTERM (128 + 15), after the batches in flight. */
  interrupted: 130,
  terminated: 143,
} as const;

/** Base class: a message for people, a hint on what to do, and an exit code. */
export class SyncError extends Error {
  readonly exitCode: number = ExitCode.internal;
  readonly hint: string | undefined;
  constructor(message: string, hint?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.hint = hint;
  }
}

/** Bad flags, unreadable or undecodable input, a file without an email column. */
export class UsageError extends SyncError {
  override readonly exitCode = ExitCode.usage;
}

/**
 * The index cannot be used as it is: empty, not an SQLite database, corrupt, or missing a
 * table. Exit 2 like any unusable input; `verify --repair` moves it aside and rebuilds it.
 */
export class IndexDamagedError extends UsageError {
  constructor(readonly path: string, readonly reason: string) {
    super(
      `the index ${path} is damaged: ${reason}`,
      "rebuild it from the campaign with `smartlead-sync verify --repair` (same --campaign-id and --state); it keeps the damaged file beside it as .damaged-<time>",
    );
  }
}

/** Smartlead answered 401 or 403. */
export class AuthError extends SyncError {
  override readonly exitCode = ExitCode.auth;
}

/** The campaign id does not exist for this key. */
export class CampaignNotFoundError extends SyncError {
  override readonly exitCode = ExitCode.campaignNotFound;
}

/** Smartlead could not be reached or kept failing after every retry. */
export class UnavailableError extends SyncError {
  override readonly exitCode = ExitCode.unavailable;
}

/** Smartlead reported `is_lead_limit_exhausted`: no more leads can be imported. */
export class CreditsExhaustedError extends SyncError {
  override readonly exitCode = ExitCode.creditsExhausted;
}

/** Another run holds the lock on this index. */
export class LockedError extends SyncError {
  override readonly exitCode = ExitCode.locked;
}

/** The run was asked to stop (SIGINT/SIGTERM); what was in flight finished and is recorded. */
export class InterruptedError extends SyncError {
  override readonly exitCode: number;
  constructor(signal: string) {
    super(
      `stopped by ${signal}: the batches in flight finished and are recorded`,
      "run the same command again to send the rest",
    );
    this.exitCode = signal === "SIGTERM" ? ExitCode.terminated : ExitCode.interrupted;
  }
}
