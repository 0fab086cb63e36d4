/**
 * Problems of the machine, not of the tool: a full disk, a read-only or missing directory, a
 * file that is not what it should be. They become exit 2 with the real cause instead of an
 * "internal error", from Deno's file-system errors and from SQLite's (node:sqlite) alike.
 */
import { IndexDamagedError, SyncError, UsageError } from "./errors.ts";

/** The operating system's error code of a Deno file-system error (`ENOSPC`, ...), if any. */
function osCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^E[A-Z]+$/.test(code) ? code : undefined;
}

const OS_CAUSES: Record<string, string> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  ENOTDIR: "a part of the path is not a directory",
  EISDIR: "is a directory",
  EEXIST: "already exists",
  ELOOP: "too many levels of symbolic links",
  ENAMETOOLONG: "file name too long",
  EIO: "input/output error",
};

/** One short phrase for a file-system error: "no space left on device". */
export function osCause(e: unknown): string {
  const code = osCode(e);
  if (code && OS_CAUSES[code]) return OS_CAUSES[code];
  if (e instanceof Deno.errors.NotFound) return OS_CAUSES.ENOENT!;
  if (e instanceof Deno.errors.PermissionDenied) return OS_CAUSES.EACCES!;
  if (e instanceof Deno.errors.IsADirectory) return OS_CAUSES.EISDIR!;
  if (e instanceof Deno.errors.NotADirectory) return OS_CAUSES.ENOTDIR!;
  if (e instanceof Deno.errors.AlreadyExists) return OS_CAUSES.EEXIST!;
  // Deno's own refusal ("Requires all access to /proc, run again with --allow-all"): the
  // tool's permissions exclude system paths such as /proc, /sys and /dev.
  if (e instanceof Deno.errors.NotCapable) return "a system path this tool may not use";
  return e instanceof Error ? e.message : String(e);
}

/** SQLite's primary result code of a node:sqlite error (13 = SQLITE_FULL, ...), if any. */
export function sqliteCode(e: unknown): number | undefined {
  if ((e as { code?: unknown } | null)?.code !== "ERR_SQLITE_ERROR") return undefined;
  const errcode = (e as { errcode?: unknown }).errcode;
  if (typeof errcode === "number" && errcode !== 1) return errcode & 0xff;
  // `exec()` errors carry only the message; map SQLite's fixed texts back to their codes.
  const message = (e as Error).message;
  if (/database or disk is full/.test(message)) return 13;
  if (/attempt to write a readonly database/.test(message)) return 8;
  if (/disk I\/O error/.test(message)) return 10;
  if (/unable to open database file/.test(message)) return 14;
  if (/database disk image is malformed/.test(message)) return 11;
  if (/file is not a database/.test(message)) return 26;
  if (/database is locked/.test(message)) return 5;
  return typeof errcode === "number" ? errcode & 0xff : undefined;
}

export const SQLITE = {
  BUSY: 5,
  LOCKED: 6,
  READONLY: 8,
  IOERR: 10,
  CORRUPT: 11,
  FULL: 13,
  CANTOPEN: 14,
  NOTADB: 26,
} as const;

/**
 * The user-facing error for a problem of the environment, or undefined when `e` is not one
 * (then it stays an internal error). `index` names the index the SQLite errors are about.
 */
export function environmentError(e: unknown, index?: string): SyncError | undefined {
  if (e instanceof SyncError) return e;
  const where = index ? ` the index ${index}` : " the index";
  switch (sqliteCode(e)) {
    case SQLITE.FULL:
      return new UsageError(
        `the disk is full: cannot write${where} (or SQLite's temporary files)`,
        "free some space and run the same command again; what was recorded is kept",
        { cause: e },
      );
    case SQLITE.READONLY:
      return new UsageError(
        `cannot write${where}: it is read-only`,
        "check the permissions of the file and of its directory, or pass another --state",
        { cause: e },
      );
    case SQLITE.IOERR:
      return new UsageError(
        `disk I/O error on${where}`,
        "check the disk (full, read-only, removed?) and run the same command again",
        { cause: e },
      );
    case SQLITE.CANTOPEN:
      return new UsageError(
        `cannot open${where}`,
        "check --state and the permissions of its directory",
        { cause: e },
      );
    case SQLITE.CORRUPT:
    case SQLITE.NOTADB:
      return index
        ? new IndexDamagedError(index, (e as Error).message)
        : new UsageError(`the index is damaged: ${(e as Error).message}`, "run verify --repair");
  }
  const code = osCode(e);
  if (code === "ENOSPC" || code === "EDQUOT" || code === "EROFS" || code === "EIO") {
    return new UsageError(
      `${osCause(e)}: ${(e as Error).message}`,
      "free some space or fix the disk, then run the same command again",
      { cause: e },
    );
  }
  return undefined;
}
