/**
 * Opening an index, and the one place that decides whether an index can be used: push,
 * state and verify all open through `openIndex`, so a damaged index is named the same way
 * everywhere (`IndexDamagedError`, exit 2, "rebuild it with verify --repair").
 *
 * A new index is created under a temporary name, given its tables, and renamed into place,
 * so an index file always has a schema: an empty (0-byte) one is damage, never "new".
 */
import { DatabaseSync } from "node:sqlite";
import { IndexDamagedError, UsageError } from "../errors.ts";
import { environmentError, SQLITE, sqliteCode } from "../os_errors.ts";
import { ensurePrivateFile, fileError, tighten } from "../private_files.ts";
import { basename, realFilePath } from "./paths.ts";

/**
 * The index's connection. SQLite rolls a transaction back by itself on some errors (a full
 * disk, an I/O error); the `rollback` in an error handler would then fail with "cannot
 * rollback - no transaction is active" and hide the real error. Here it is skipped instead.
 */
export class IndexDb extends DatabaseSync {
  override exec(sql: string): void {
    if (sql === "rollback" && !this.isTransaction) return;
    super.exec(sql);
  }
}

export interface OpenIndexOptions {
  readOnly: boolean;
  /** The newest schema this version knows. */
  schemaVersion: number;
  /** Creates or upgrades the tables (run on a new index before it is renamed into place). */
  migrate: (db: DatabaseSync) => void;
}

/** Tables and the columns of them that every schema version has. */
const REQUIRED: Record<string, string[]> = {
  meta: ["key", "value"],
  leads: ["email", "hash", "lead_id", "status"],
  runs: ["id", "started_at"],
};

const SQLITE_HEADER = "SQLite format 3\0";
const HINT = "check --state and the permissions of its directory";

/**
 * Opens the index at `path` (creating it when writable and absent), after checking that it
 * is an intact smartlead-sync index of a schema this version reads.
 * @throws IndexDamagedError, or UsageError for a missing, newer or unreachable index
 */
export function openIndex(path: string, opts: OpenIndexOptions): IndexDb {
  if (path === ":memory:") return new IndexDb(path);
  const real = realFilePath(path);
  let size: number | undefined;
  try {
    size = Deno.statSync(real).size;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw fileError("open the index", path, e, HINT);
  }
  if (size === undefined) {
    if (opts.readOnly) {
      throw new UsageError(`no index at ${path} yet`, "it is created by the first push");
    }
    create(path, real, opts);
  } else if (size === 0) {
    throw new IndexDamagedError(path, "the file is empty (0 bytes)");
  } else checkHeader(path, real);
  if (!opts.readOnly) {
    // Opening for writing here first gives the real cause (read-only file system, permission
    // denied) where SQLite would only say "attempt to write a readonly database" later; the
    // write-ahead log must be creatable beside it too.
    try {
      ensurePrivateFile(real);
      ensurePrivateFile(`${real}-wal`);
    } catch (e) {
      throw fileError("write to the index", path, e, HINT);
    }
  }
  let db: IndexDb | undefined;
  try {
    db = new IndexDb(real, { readOnly: opts.readOnly });
    classify(db, path, opts.schemaVersion);
    return db;
  } catch (e) {
    db?.close();
    if (opts.readOnly && sqliteCode(e) === SQLITE.CANTOPEN) {
      // Reading a WAL index needs its `-shm` file, which SQLite creates beside it: ask the
      // file system why that fails, since SQLite only says "unable to open database file".
      try {
        ensurePrivateFile(`${real}-shm`);
      } catch (why) {
        throw fileError(
          "read the index",
          path,
          why,
          `SQLite must create ${
            basename(real)
          }-shm beside it to read it: make its directory writable, or copy the index elsewhere and pass that --state`,
        );
      }
    }
    throw environmentError(e, path) ?? e;
  }
}

function checkHeader(path: string, real: string): void {
  const head = new Uint8Array(SQLITE_HEADER.length);
  let n: number | null;
  try {
    using f = Deno.openSync(real, { read: true });
    n = f.readSync(head);
  } catch (e) {
    throw fileError("read the index", path, e, HINT);
  }
  if (n !== head.length || new TextDecoder().decode(head) !== SQLITE_HEADER) {
    throw new IndexDamagedError(path, "it is not an SQLite database");
  }
}

/** Throws what makes the open index unusable, if anything. */
function classify(db: DatabaseSync, path: string, schemaVersion: number): void {
  const problems = db.prepare("pragma quick_check").all().map((r) => String(Object.values(r)[0]));
  if (problems.length !== 1 || problems[0] !== "ok") {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problems)` : "";
    throw new IndexDamagedError(path, `SQLite's integrity check failed: ${problems[0]}${more}`);
  }
  const tables = new Set(
    db.prepare("select name from sqlite_schema where type = 'table'").all().map((r) =>
      String(r.name)
    ),
  );
  const row = tables.has("meta")
    ? db.prepare("select value from meta where key = 'schema_version'").get()
    : undefined;
  if (row === undefined) {
    throw new IndexDamagedError(
      path,
      "it has no schema version (not a smartlead-sync index, or its creation was interrupted)",
    );
  }
  const version = Number(row.value);
  if (!Number.isInteger(version) || version < 1) {
    throw new IndexDamagedError(path, `its schema version ${JSON.stringify(row.value)} is invalid`);
  }
  if (version > schemaVersion) {
    throw new UsageError(
      `the index ${path} has schema version ${version}, newer than this smartlead-sync reads (${schemaVersion})`,
      "upgrade smartlead-sync",
    );
  }
  for (const [table, columns] of Object.entries(REQUIRED)) {
    if (!tables.has(table)) throw new IndexDamagedError(path, `the table "${table}" is missing`);
    const have = new Set(
      db.prepare(`pragma table_info("${table}")`).all().map((r) => String(r.name)),
    );
    const lost = columns.filter((c) => !have.has(c));
    if (lost.length > 0) {
      throw new IndexDamagedError(path, `the table "${table}" lacks ${lost.join(", ")}`);
    }
  }
}

/** Creates the index under a temporary name, gives it its tables, renames it into place. */
function create(path: string, real: string, opts: OpenIndexOptions): void {
  const work = `${real}.new-${Deno.pid}`;
  const cleanup = () => {
    for (const f of [work, `${work}-wal`, `${work}-shm`, `${work}-journal`]) {
      try {
        Deno.removeSync(f);
      } catch {
        // absent
      }
    }
  };
  cleanup();
  try {
    ensurePrivateFile(work);
  } catch (e) {
    throw fileError("create the index", path, e, HINT);
  }
  try {
    const db = new IndexDb(work);
    try {
      db.exec("pragma journal_mode = wal");
      opts.migrate(db);
    } finally {
      db.close();
    }
    Deno.renameSync(work, real);
    tighten(real);
  } catch (e) {
    cleanup();
    throw environmentError(e, path) ?? fileError("create the index", path, e, HINT);
  }
}

/**
 * Moves a damaged index (and its write-ahead log) aside as `<name>.damaged-<time>`, so that
 * it can be rebuilt; returns the new name.
 */
export function moveAside(path: string, now: Date = new Date()): string {
  const real = realFilePath(path);
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const aside = `${real}.damaged-${stamp}`;
  for (const suffix of ["-wal", "-shm"]) {
    try {
      Deno.renameSync(`${real}${suffix}`, `${aside}${suffix}`);
    } catch {
      // absent
    }
  }
  try {
    Deno.renameSync(real, aside);
  } catch (e) {
    throw fileError("move aside the damaged index", path, e, HINT);
  }
  return aside;
}
