/**
 * One run per index. The lock is an exclusive SQLite lock on `<index>.lock`, held for the
 * whole run: the operating system releases it when the process dies, even by `kill -9`,
 * so a stale lock cannot block anyone. Who holds it is written beside it in
 * `<index>.lock.json` (pid, host, start time) for the message the second run prints.
 *
 * The lock is taken on the index's real path (symbolic links resolved), so two names of one
 * index share it. The lock file's content means nothing: a damaged one is reset in place
 * (same inode, so a holder would still be seen) instead of reading as "locked" forever.
 */
import { DatabaseSync } from "node:sqlite";
import { LockedError, UsageError } from "../errors.ts";
import { SQLITE, sqliteCode } from "../os_errors.ts";
import { ensurePrivateFile, FILE_MODE, fileError } from "../private_files.ts";
import { realFilePath } from "./paths.ts";

export interface LockInfo {
  pid: number;
  hostname: string;
  started_at: string;
}

export interface HeldLock {
  /** The previous holder when it died without releasing (informational). */
  takenOverFrom: LockInfo | undefined;
  /** The lock file (beside the index's real path). */
  path: string;
  /**
   * Gives the lock back. `restore`: this run did no work, so the previous holder's info is
   * put back and the next run still notes the unfinished run it continues.
   */
  release(opts?: { restore?: boolean }): void;
}

/** The holder recorded in `path`, or undefined when it is absent or not a holder record. */
export function readLockInfo(path: string): LockInfo | undefined {
  try {
    const v = JSON.parse(Deno.readTextFileSync(path)) as Partial<LockInfo> | null;
    if (
      v !== null && typeof v === "object" && Number.isInteger(v.pid) &&
      typeof v.hostname === "string" && typeof v.started_at === "string"
    ) {
      return { pid: v.pid!, hostname: v.hostname, started_at: v.started_at };
    }
  } catch {
    // absent, unreadable or not JSON: nothing known about a holder
  }
  return undefined;
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}

const isBusy = (e: unknown) => {
  const code = sqliteCode(e);
  return code === SQLITE.BUSY || code === SQLITE.LOCKED;
};

/** Takes the exclusive lock; returns what prevented it, if anything. */
function attempt(db: DatabaseSync): unknown {
  try {
    db.exec(
      "pragma busy_timeout = 0; pragma locking_mode = exclusive; pragma journal_mode = delete",
    );
    db.exec("begin exclusive");
    db.exec("create table if not exists holder(pid integer)");
    db.exec("commit");
    return undefined;
  } catch (e) {
    return e;
  }
}

/** Takes the lock for `indexPath` or throws `LockedError` naming the holder. */
export function acquireLock(indexPath: string): HeldLock {
  const lockPath = `${realFilePath(indexPath)}.lock`;
  const infoPath = `${lockPath}.json`;
  const hint = "check --state and the permissions of its directory";
  const open = () => {
    try {
      ensurePrivateFile(lockPath);
      return new DatabaseSync(lockPath);
    } catch (e) {
      throw fileError("create the lock file", lockPath, e, hint);
    }
  };
  let db = open();
  let failure = attempt(db);
  if (failure !== undefined && !isBusy(failure)) {
    // Not a database (garbage, a truncated copy): nobody can hold a lock through it, and its
    // content is worthless. Empty it in place and try once more.
    db.close();
    try {
      Deno.truncateSync(lockPath, 0);
    } catch (e) {
      throw fileError("reset the damaged lock file", lockPath, e, hint);
    }
    db = open();
    failure = attempt(db);
  }
  if (failure !== undefined) {
    db.close();
    if (!isBusy(failure)) {
      throw new UsageError(
        `cannot use the lock file ${lockPath}: ${(failure as Error).message}`,
        "no run can be using it: remove it and run again",
        { cause: failure },
      );
    }
    const info = readLockInfo(infoPath);
    const who = info
      ? `pid ${info.pid} on ${info.hostname}, started ${info.started_at}`
      : "another process";
    throw new LockedError(
      `the index ${indexPath} is locked by another run (${who})`,
      "wait for it to finish; a killed run releases the lock by itself",
    );
  }
  const previous = readLockInfo(infoPath);
  writeInfo(infoPath, {
    pid: Deno.pid,
    hostname: hostname(),
    started_at: new Date().toISOString(),
  });
  return {
    takenOverFrom: previous,
    path: lockPath,
    release(opts) {
      try {
        if (opts?.restore && previous) writeInfo(infoPath, previous);
        else Deno.removeSync(infoPath);
      } catch {
        // already gone
      }
      db.close();
    },
  };
}

/**
 * Replaces the holder record: removed, then created anew 0600 with O_EXCL, so a link planted
 * in its place is never followed. It is informational: failing to write it does not fail
 * the run.
 */
function writeInfo(path: string, info: LockInfo): void {
  try {
    Deno.removeSync(path);
  } catch {
    // absent (or a directory someone made: then the write below fails too)
  }
  try {
    Deno.writeTextFileSync(path, JSON.stringify(info) + "\n", {
      createNew: true,
      mode: FILE_MODE,
    });
  } catch {
    // the message of a second run will say "another process"
  }
}
