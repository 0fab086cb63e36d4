/**
 * `smartlead-sync state`: where the index is, counts per status, and the last run; `--all`:
 * every index in the state directory; `state forget`: removes one (`state_forget.ts`).
 */
import { Argument, Command } from "commander";
import { UsageError } from "../errors.ts";
import { defaultStateDir, dirname, fileExists, resolveIndexPath } from "../index/paths.ts";
import { IndexStore } from "../index/store.ts";
import { plural } from "../plural.ts";
import { withoutCredentials } from "../redact.ts";
import { resolveAccess } from "./access.ts";
import { campaignOptions, resolvePushOptions } from "./push.ts";
import type { CommandContext } from "./context.ts";
import { forgetIndex } from "./state_forget.ts";

/** What `state` reports about one index. */
export interface IndexInfo {
  index: string;
  campaign_id: number | null;
  base_url: string | null;
  /** The base URL's host (and port). */
  host: string | null;
  schema_version: number;
  leads: { synced: number; rejected: number; pending: number };
  total: number;
  /** Leads smartlead-sync paused or unsubscribed (`--missing`). */
  removed: { paused: number; unsubscribed: number };
  size_bytes: number;
  last_run: {
    started_at: string;
    finished_at: string | null;
    mode: string;
    exit_code: number | null;
    summary: Record<string, unknown> | null;
  } | null;
}

/** Reads what `state` shows from an open index. */
export async function describeIndex(store: IndexStore, path: string): Promise<IndexInfo> {
  const counts = store.statusCounts();
  const last = store.lastRun();
  const baseUrl = store.getMeta("base_url");
  // Older indexes may lack the campaign in their metadata; their file name has it.
  const campaign = store.getMeta("campaign_id") ?? /-campaign-(\d+)\.db$/.exec(path)?.[1];
  let host: string | null = null;
  try {
    if (baseUrl !== undefined) host = new URL(baseUrl).host;
  } catch {
    // not a URL: shown as stored
  }
  return {
    index: path,
    campaign_id: campaign === undefined ? null : Number(campaign),
    base_url: baseUrl === undefined ? null : withoutCredentials(baseUrl),
    host,
    schema_version: Number(store.getMeta("schema_version") ?? 0),
    leads: counts,
    total: counts.synced + counts.rejected + counts.pending,
    removed: store.removedCounts(),
    size_bytes: (await Deno.stat(path)).size,
    last_run: last
      ? {
        started_at: new Date(last.started_at).toISOString(),
        finished_at: last.finished_at ? new Date(last.finished_at).toISOString() : null,
        mode: last.mode,
        exit_code: last.exit_code,
        summary: last.summary ? JSON.parse(last.summary) : null,
      }
      : null,
  };
}

function n(x: number): string {
  return x.toLocaleString("en-US");
}

/** "last run: <start> (<mode>), exit N: added ..." */
function lastRunLine(info: IndexInfo): string {
  const run = info.last_run;
  if (!run) return "last run: none";
  const s = run.summary as Record<string, number> | null;
  return `last run: ${run.started_at} (${run.mode}), ` +
    (run.finished_at === null ? "did not finish" : `exit ${run.exit_code}`) +
    (s
      ? `: added ${n(s.added ?? 0)}, updated ${n(s.updated ?? 0)}, unchanged ${
        n(s.unchanged ?? 0)
      }, rejected ${n(s.rejected ?? 0)}`
      : "");
}

function countsLine(info: IndexInfo): string {
  const c = info.leads;
  return `${plural(info.total, "lead")} (synced ${n(c.synced)}, rejected ${n(c.rejected)}, ` +
    `pending ${n(c.pending)})`;
}

/** `state --all`: every index (`*.db`) in the state directory, damaged ones named as such. */
async function listAll(ctx: CommandContext, flags: Record<string, unknown>): Promise<void> {
  const { config } = await resolveAccess(ctx, flags, { key: false });
  const state = (typeof flags.state === "string" ? flags.state : undefined) ?? config.state;
  // --state may name an index file; its directory is listed then.
  const dir = state === undefined
    ? defaultStateDir()
    : /\.(db|sqlite3?)$/i.test(state)
    ? dirname(state)
    : state.replace(/\/+$/, "");
  ctx.report = { state_dir: dir, count: 0, indexes: [] };
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && /\.(db|sqlite3?)$/i.test(e.name)) names.push(e.name);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      throw new UsageError(
        `cannot list the state directory ${dir}: ${e instanceof Error ? e.message : e}`,
        "check --state",
      );
    }
  }
  names.sort();
  const indexes: Array<IndexInfo | { index: string; error: string }> = [];
  for (const name of names) {
    const path = `${dir}/${name}`;
    try {
      const store = new IndexStore(path, { readOnly: true });
      try {
        indexes.push(await describeIndex(store, path));
      } finally {
        store.close();
      }
    } catch (e) {
      indexes.push({ index: path, error: e instanceof Error ? e.message : String(e) });
    }
  }
  ctx.report = { state_dir: dir, count: indexes.length, indexes };
  if (flags.json) return;
  if (indexes.length === 0) {
    ctx.output.err(`no indexes in ${dir} (a push creates one per campaign)\n`);
    return;
  }
  const lines = [`${dir}: ${plural(indexes.length, "index", "indexes")}`];
  for (const info of indexes) {
    lines.push(`${info.index.slice(dir.length + 1)}`);
    if ("error" in info) {
      lines.push(`  cannot be read: ${info.error}`);
      continue;
    }
    lines.push(
      `  campaign ${info.campaign_id ?? "?"} at ${info.base_url ?? "an unknown host"}`,
      `  ${countsLine(info)}`,
      `  ${lastRunLine(info)}`,
    );
  }
  ctx.output.err(lines.join("\n") + "\n");
}

export const stateCommand = (ctx: CommandContext): Command =>
  campaignOptions(new Command("state"))
    .summary("show the local index (--all: every index); state forget removes one")
    .addArgument(
      new Argument("[action]", "forget: remove the campaign's index, after a confirmation")
        .choices(["forget"]),
    )
    .option("--all", "list every index in the state directory")
    .option("--yes", "state forget: remove without asking (for scripts)")
    .option("--dry-run", "state forget: show what would be removed, remove nothing")
    .option("--json", "print the same as one JSON object on stdout")
    .action(async (action: string | undefined, flags: Record<string, unknown>) => {
      if (action === "forget") {
        if (flags.all) {
          throw new UsageError(
            "state forget removes one index, not --all",
            "name it with --campaign-id (state --all lists them)",
          );
        }
        return await forgetIndex(ctx, flags);
      }
      for (const flag of ["yes", "dryRun"] as const) {
        if (flags[flag]) {
          throw new UsageError(
            `--${flag === "dryRun" ? "dry-run" : flag} applies to state forget only`,
            "smartlead-sync state forget --campaign-id <id> [--dry-run | --yes]",
          );
        }
      }
      if (flags.all) return await listAll(ctx, flags);
      const opts = await resolvePushOptions(ctx, [], { ...flags, dryRun: true });
      const path = resolveIndexPath(opts.state, opts.baseUrl!, opts.campaignId);
      ctx.report = { index: path, campaign_id: opts.campaignId };
      const exists = await fileExists(path);
      if (!exists) {
        throw new UsageError(
          `no index at ${path} yet`,
          "it is created by the first push (not by --dry-run); state --all lists the indexes",
        );
      }
      const store = new IndexStore(path, { readOnly: true });
      try {
        const info = await describeIndex(store, path);
        // The campaign asked for, and the URL given when the index has none recorded.
        info.campaign_id = opts.campaignId;
        info.base_url ??= withoutCredentials(opts.baseUrl!);
        ctx.report = { ...info };
        if (flags.json) return;
        const lines = [
          `index: ${info.index}`,
          `campaign ${info.campaign_id} at ${info.base_url}`,
          `leads: ${n(info.total)} (synced ${n(info.leads.synced)}, rejected ${
            n(info.leads.rejected)
          }, pending ${n(info.leads.pending)})`,
          lastRunLine(info),
        ];
        if (info.removed.paused + info.removed.unsubscribed > 0) {
          lines.push(
            `paused by smartlead-sync: ${info.removed.paused}, unsubscribed: ${info.removed.unsubscribed}`,
          );
        }
        ctx.output.err(lines.join("\n") + "\n");
      } finally {
        store.close();
      }
    });
