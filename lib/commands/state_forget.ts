/**
 * `smartlead-sync state forget --campaign-id N`: removes one campaign's index (and its
 * `-wal`, `-shm`, `-journal` and lock files). It takes the lock first, so a running push never
 * loses its index (exit 7), and asks first: y/N on a terminal, `--yes` for scripts; without a
 * terminal and without `--yes` it refuses (exit 2). `--dry-run` lists the files and removes
 * nothing. Nothing changes in Smartlead: the next push treats every lead as new to the index.
 */
import { UsageError } from "../errors.ts";
import { acquireLock } from "../index/lock.ts";
import { fileExists, realFilePath, resolveIndexPath } from "../index/paths.ts";
import { IndexStore } from "../index/store.ts";
import { osCause } from "../os_errors.ts";
import { plural } from "../plural.ts";
import { resolveAccess } from "./access.ts";
import type { CommandContext } from "./context.ts";

/** The files that belong to an index (those that exist are removed). */
export function indexFiles(path: string): string[] {
  const lock = `${realFilePath(path)}.lock`;
  return [path, `${path}-wal`, `${path}-shm`, `${path}-journal`, `${lock}.json`, lock];
}

/** Reads one line typed on stdin (the answer to a question); "" at the end of input. */
async function readAnswer(stdin: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stdin.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    while (!text.includes("\n")) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    reader.releaseLock();
  }
  return text.split("\n")[0]!.trim();
}

/** "12 leads (synced 10, ...)" of the index, or why it cannot be read (it is removed anyway). */
function describe(path: string): string {
  try {
    const store = new IndexStore(path, { readOnly: true });
    try {
      const c = store.statusCounts();
      return plural(c.synced + c.rejected + c.pending, "lead");
    } finally {
      store.close();
    }
  } catch (e) {
    return `unreadable: ${e instanceof Error ? e.message : String(e)}`;
  }
}

export async function forgetIndex(
  ctx: CommandContext,
  flags: Record<string, unknown>,
): Promise<void> {
  const access = await resolveAccess(ctx, flags, { campaign: "required", key: false });
  const campaignId = access.campaignId!;
  const state = (typeof flags.state === "string" ? flags.state : undefined) ??
    access.config.state;
  const path = resolveIndexPath(state, access.baseUrl, campaignId);
  const dryRun = flags.dryRun === true;
  ctx.report = { index: path, campaign_id: campaignId, dry_run: dryRun, removed: [] };
  if (!(await fileExists(path))) {
    throw new UsageError(
      `no index at ${path}: nothing to forget`,
      "check --campaign-id, --base-url and --state (state --all lists the indexes)",
    );
  }
  const what = `the index of campaign ${campaignId} (${describe(path)}): ${path}`;
  if (dryRun) {
    const files: string[] = [];
    for (const f of indexFiles(path)) if (await fileExists(f)) files.push(f);
    ctx.report = { ...ctx.report, would_remove: files };
    if (!flags.json) {
      ctx.output.err(
        `dry run: state forget would remove ${what}\n` + files.map((f) => `  ${f}\n`).join(""),
      );
    }
    return;
  }
  const yes = flags.yes === true;
  if (!yes && !ctx.stdinIsTty) {
    throw new UsageError(
      `state forget would remove ${what}, and there is no terminal to confirm it on`,
      "pass --yes to remove it (--dry-run shows the files)",
    );
  }
  // A running push holds the lock: exit 7 before asking, and nothing is removed.
  const lock = acquireLock(path);
  try {
    if (!yes) {
      ctx.output.err(
        `remove ${what}?\nSmartlead is not changed; the next push treats every lead as new to the index. [y/N] `,
      );
      const answer = await readAnswer(ctx.stdin);
      if (!/^y(es)?$/i.test(answer)) {
        ctx.output.err("not removed\n");
        return;
      }
    }
    const removed: string[] = [];
    // The lock files last, while the lock is still held: a run that starts meanwhile is refused
    // (exit 7) or, once they are gone, starts on a new index.
    for (const f of indexFiles(path)) {
      try {
        await Deno.remove(f);
        removed.push(f);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) continue;
        throw new UsageError(`cannot remove ${f}: ${osCause(e)}`, "check its directory");
      }
    }
    ctx.report = { ...ctx.report, removed };
    if (!flags.json) {
      ctx.output.err(`removed ${what}\n` + removed.map((f) => `  ${f}\n`).join(""));
    }
  } finally {
    lock.release();
  }
}
