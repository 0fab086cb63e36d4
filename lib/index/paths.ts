/**
 * Where indexes live: `$XDG_STATE_HOME/smartlead-sync/`, else on Windows
 * `%LOCALAPPDATA%\smartlead-sync\`, else `~/.local/state/smartlead-sync/`.
 */
import { env } from "../env.ts";
import { UsageError } from "../errors.ts";

/**
 * The default state directory, from the declared variables only (a variable the permissions
 * do not cover reads as unset, so a container without HOME gets "pass --state", not a
 * permission error).
 */
export function defaultStateDir(
  os: typeof Deno.build.os = Deno.build.os,
  get: typeof env = env,
): string {
  const trim = (dir: string) => dir.replace(/[\\/]+$/, "");
  const xdg = get("XDG_STATE_HOME");
  if (xdg) return `${trim(xdg)}/smartlead-sync`;
  if (os === "windows") {
    const local = get("LOCALAPPDATA");
    if (local) return `${trim(local)}\\smartlead-sync`;
  }
  const home = get("HOME");
  if (home) return `${trim(home)}/.local/state/smartlead-sync`;
  throw new UsageError(
    `cannot find a state directory: none of XDG_STATE_HOME, ${
      os === "windows" ? "LOCALAPPDATA, " : ""
    }HOME is set`,
    "pass --state <directory or .db file>",
  );
}

/** File name of the index for a Smartlead host and campaign, e.g. `server.smartlead.ai-123.db`. */
export function indexFileName(baseUrl: string, campaignId: number): string {
  let host: string;
  try {
    const u = new URL(baseUrl);
    host = u.port ? `${u.hostname}_${u.port}` : u.hostname;
  } catch {
    host = "invalid-host";
  }
  return `${host.replace(/[^A-Za-z0-9._-]/g, "_")}-campaign-${campaignId}.db`;
}

/**
 * Resolves the index path. `--state` may name a directory (the default file name goes in
 * it) or a file ending in `.db`/`.sqlite`.
 */
export function resolveIndexPath(
  state: string | undefined,
  baseUrl: string,
  campaignId: number,
): string {
  const name = indexFileName(baseUrl, campaignId);
  if (state === undefined) return `${defaultStateDir()}/${name}`;
  if (/\.(db|sqlite3?)$/i.test(state)) return state;
  return `${state.replace(/\/+$/, "")}/${name}`;
}

export function dirname(path: string): string {
  const i = lastSeparator(path);
  return i <= 0 ? (i === 0 ? "/" : ".") : path.slice(0, i);
}

export function basename(path: string): string {
  return path.slice(lastSeparator(path) + 1);
}

function lastSeparator(path: string): number {
  return Deno.build.os === "windows"
    ? Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"))
    : path.lastIndexOf("/");
}

/**
 * The real path of a file that may not exist yet, with every symbolic link resolved: an
 * existing file's real path, a dangling link's target (resolved in turn), or the real path of
 * the directory joined with the name. Two names of one index (a link, `a/../b`) resolve to
 * the same path, so they share one lock. Falls back to `path` when its directory is missing.
 */
export function realFilePath(path: string): string {
  for (let hops = 0; hops < 40; hops++) {
    try {
      return Deno.realPathSync(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    let target: string;
    try {
      target = Deno.readLinkSync(path);
    } catch {
      try {
        return `${Deno.realPathSync(dirname(path))}/${basename(path)}`;
      } catch {
        return path;
      }
    }
    path = /^([A-Za-z]:)?[\\/]/.test(target) ? target : `${dirname(path)}/${target}`;
  }
  throw new UsageError(`${path}: too many levels of symbolic links`, "check --state");
}

/** Whether an index file exists (dry runs and inspection must not create one). */
export async function fileExists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}
