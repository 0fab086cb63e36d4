/** `smartlead-sync state`: where the index is, counts per status, and the last run. */
import { Command } from "commander";
import { fileExists, resolveIndexPath } from "../index/paths.ts";
import { IndexStore } from "../index/store.ts";
import { UsageError } from "../errors.ts";
import { withoutCredentials } from "../redact.ts";
import { campaignOptions, resolvePushOptions } from "./push.ts";
import type { CommandContext } from "./context.ts";

export const stateCommand = (ctx: CommandContext): Command =>
  campaignOptions(new Command("state"))
    .summary("show the local index: where it is, counts per status, the last run")
    .option("--json", "print the same as one JSON object on stdout")
    .action(async (flags: Record<string, unknown>) => {
      const opts = await resolvePushOptions(ctx, [], { ...flags, dryRun: true });
      const path = resolveIndexPath(opts.state, opts.baseUrl!, opts.campaignId);
      ctx.report = { index: path, campaign_id: opts.campaignId };
      const exists = await fileExists(path);
      if (!exists) {
        throw new UsageError(
          `no index at ${path} yet`,
          "it is created by the first push (not by --dry-run)",
        );
      }
      const store = new IndexStore(path, { readOnly: true });
      try {
        const counts = store.statusCounts();
        const last = store.lastRun();
        const info = {
          index: path,
          campaign_id: opts.campaignId,
          base_url: withoutCredentials(store.getMeta("base_url") ?? opts.baseUrl!),
          schema_version: Number(store.getMeta("schema_version") ?? 0),
          leads: counts,
          total: counts.synced + counts.rejected + counts.pending,
          /** Leads smartlead-sync paused or unsubscribed (`--missing`). */
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
        ctx.report = info;
        if (flags.json) return;
        const lines = [
          `index: ${info.index}`,
          `campaign ${info.campaign_id} at ${info.base_url}`,
          `leads: ${info.total} (synced ${counts.synced}, rejected ${counts.rejected}, pending ${counts.pending})`,
        ];
        if (info.removed.paused + info.removed.unsubscribed > 0) {
          lines.push(
            `paused by smartlead-sync: ${info.removed.paused}, unsubscribed: ${info.removed.unsubscribed}`,
          );
        }
        if (info.last_run) {
          const s = info.last_run.summary as Record<string, number> | null;
          lines.push(
            `last run: ${info.last_run.started_at} (${info.last_run.mode}), ` +
              (info.last_run.finished_at === null
                ? "did not finish"
                : `exit ${info.last_run.exit_code}`) +
              (s
                ? `: added ${s.added}, updated ${s.updated}, unchanged ${s.unchanged}, rejected ${s.rejected}`
                : ""),
          );
        } else lines.push("last run: none");
        ctx.output.err(lines.join("\n") + "\n");
      } finally {
        store.close();
      }
    });
