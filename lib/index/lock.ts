/**
 * One run per index. The lock is an exclusive SQLite lock on `<index>.lock`, held for the
 * whole run: the operating system releases it when the process dies, even by `kill -9`,
 * so a stale lock cannot block anyone. Who holds it is written beside it in
 * `<index>.lock.json` (pid, host, start time) for the message the second run prints.
 */
import { DatabaseSync } from "node:sqlite";
import { LockedError } from "../errors.ts";

export interface LockInfo {
  pid: number;
  hostname: string;
  started_at: string;
}

export interface HeldLock {
  /** The previous holder when it died without releasing (informational). */
  takenOverFrom: LockInfo | undefined;
  /**
   * Gives the lock back. `restore`: this run did no work, so the previous holder's info is
   * put back and the next run still notes the unfinished run it continues.
   */
  release(opts?: { restore?: boolean }): void;
}

function readInfo(path: string): LockInfo | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(path)) as LockInfo;
  } catch {
    return undefined;
  }
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}

/** Takes the lock for `indexPath` or throws `LockedError` naming the holder. */
export function acquireLock(indexPath: string): HeldLock {
  const lockPath = `${indexPath}.lock`;
  const infoPath = `${lockPath}.json`;
  const db = new DatabaseSync(lockPath);
  try {
    db.exec(
      "pragma busy_timeout = 0; pragma locking_mode = exclusive; pragma journal_mode = delete",
    );
    db.exec("begin exclusive");
    db.exec("create table if not exists holder(pid integer)");
    db.exec("commit");
  } catch {
    db.close();
    const info = readInfo(infoPath);
    const who = info
      ? `pid ${info.pid} on ${info.hostname}, started ${info.started_at}`
      : "another process";
    throw new LockedError(
      `the index ${indexPath} is locked by another run (${who})`,
      "wait for it to finish; a killed run releases the lock by itself",
    );
  }
  const previous = readInfo(infoPath);
  const info: LockInfo = {
    pid: Deno.pid,
    hostname: hostname(),
    started_at: new Date().toISOString(),
  };
  Deno.writeTextFileSync(infoPath, JSON.stringify(info) + "\n");
  return {
    takenOverFrom: previous,
    release(opts) {
      try {
        if (opts?.restore && previous) {
          Deno.writeTextFileSync(infoPath, JSON.stringify(previous) + "\n");
        } else Deno.removeSync(infoPath);
      } catch {
        // already gone
      }
      db.close();
    },
  };
}
