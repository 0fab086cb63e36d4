/**
 * Files the tool writes hold personal data (the index, the rejects file) or its
 * configuration, so they are created for their owner only: files 0600, directories 0700
 * (POSIX; Windows ignores the modes). Files an older version left 0644 are tightened when
 * they are written again.
 */
import { UsageError } from "./errors.ts";
import { osCause } from "./os_errors.ts";

export const FILE_MODE = 0o600;
export const DIR_MODE = 0o700;

/** Best effort: a file owned by someone else keeps its mode (chmod would be refused). */
export function tighten(path: string): void {
  if (Deno.build.os === "windows") return;
  try {
    Deno.chmodSync(path, FILE_MODE);
  } catch {
    // not ours, or gone
  }
}

/** Creates `dir` and its missing parents, 0700. */
export async function makePrivateDir(dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true, mode: DIR_MODE });
}

/**
 * Creates `path` 0600 if it does not exist (never truncates) and tightens it otherwise.
 * SQLite then opens it and gives its `-wal`, `-shm` and journal files the same mode.
 * @throws the file-system error, with the real cause (no space, read-only, not a directory)
 */
export function ensurePrivateFile(path: string): void {
  Deno.openSync(path, { read: true, write: true, create: true, mode: FILE_MODE }).close();
  tighten(path);
}

/**
 * Opens `path` to overwrite it, without following a symbolic link to a regular file (whose
 * target would be truncated): a new file is created 0600 with O_EXCL (which never follows a
 * link); an existing regular file is opened without truncating, checked to be the file that
 * was looked at, then truncated. Devices and pipes (/dev/null, /dev/stdout) are written as
 * they are. Errors read "cannot write <what> <path>: <why>"; `origin` names where the path
 * came from (`--rejects`, a config file key). `truncate: false` leaves emptying to the caller;
 * `append` opens for appending (every write goes to the end; nothing is truncated).
 */
export async function openForOverwrite(
  path: string,
  what: string,
  origin: string,
  opts: { truncate?: boolean; append?: boolean } = {},
): Promise<Deno.FsFile> {
  const refuse = (why: string, hint: string) =>
    new UsageError(`cannot write ${what} ${path}: ${why}`, hint);
  let seen: Deno.FileInfo | undefined;
  try {
    seen = await Deno.lstat(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (seen === undefined) {
    try {
      return await Deno.open(path, {
        write: true,
        createNew: true,
        mode: FILE_MODE,
        append: opts.append ?? false,
      });
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) {
        throw refuse("appeared while it was being created", "run again");
      }
      throw e;
    }
  }
  if (seen.isDirectory) throw refuse("is a directory", `check ${origin}`);
  const link = refuse(
    "is a symbolic link, and its target would be overwritten",
    `name the file itself, not a link to it (${origin})`,
  );
  if (seen.isSymlink) {
    const target = await Deno.stat(path).catch(() => undefined);
    if (target === undefined || target.isFile || target.isDirectory) throw link;
  }
  const file = await Deno.open(path, { write: true, append: opts.append ?? false });
  try {
    const opened = await file.stat();
    if (opened.isFile) {
      if (seen.isSymlink) throw link; // retargeted since it was looked at
      if (opened.ino !== seen.ino || opened.dev !== seen.dev) {
        throw refuse("was replaced while it was being opened", "run again");
      }
      if ((opts.truncate ?? true) && !opts.append) await file.truncate(0);
      tighten(path);
    }
    return file;
  } catch (e) {
    file.close();
    throw e;
  }
}

/** "cannot create X: permission denied" for an error from the functions above. */
export function fileError(what: string, path: string, e: unknown, hint: string): UsageError {
  if (e instanceof UsageError) return e;
  return new UsageError(`cannot ${what} ${path}: ${osCause(e)}`, hint, { cause: e });
}
