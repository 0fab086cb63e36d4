/** Where indexes live: `$XDG_STATE_HOME/smartlead-sync/`, else `~/.local/state/smartlead-sync/`. */
import { UsageError } from "../errors.ts";

/** The default state directory. */
export function defaultStateDir(): string {
  const xdg = Deno.env.get("XDG_STATE_HOME");
  if (xdg) return `${xdg.replace(/\/+$/, "")}/smartlead-sync`;
  const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE");
  if (!home) {
    throw new UsageError(
      "cannot find a state directory: neither XDG_STATE_HOME nor HOME is set",
      "pass --state <path>",
    );
  }
  return `${home}/.local/state/smartlead-sync`;
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
  const i = path.lastIndexOf("/");
  return i <= 0 ? (i === 0 ? "/" : ".") : path.slice(0, i);
}

/** Whether an index file exists (dry runs and inspection must not create one). */
export async function fileExists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}
