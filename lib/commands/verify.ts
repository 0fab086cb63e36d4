/**
 * `smartlead-sync verify`: reads the campaign (its export, else the roster page by page) and
 * compares it with the index: membership, lead ids, field values and leads paused by this
 * tool; `--repair` brings the index in line with Smartlead. Exits 9 when they differ (and
 * were not repaired), 0 when they agree, like `git diff --exit-code`.
 */
import { Command } from "commander";
import { ExitCode, IndexDamagedError, UsageError } from "../errors.ts";
import { acquireLock } from "../index/lock.ts";
import { moveAside } from "../index/open.ts";
import { dirname, fileExists, resolveIndexPath } from "../index/paths.ts";
import { IndexStore } from "../index/store.ts";
import { environmentError } from "../os_errors.ts";
import { fileError, makePrivateDir } from "../private_files.ts";
import {
  agrees,
  type CampaignComparison,
  compareWithCampaign,
  repairIndex,
} from "../index/rebuild.ts";
import { parseLimit } from "../pipeline/guard_rails.ts";
import { plural } from "../plural.ts";
import { ProgressLine, rosterProgress } from "../progress.ts";
import { campaignOptions, clientFor, resolvePushOptions } from "./push.ts";
import type { CommandContext } from "./context.ts";

/** The report: the comparison, and whether (and how far) the index was repaired. */
export type VerifyReport = CampaignComparison & {
  repaired: boolean;
  /** Drifted leads marked for update on the next push (with `--repair`). */
  drift_marked: number;
  /** Why drift was not marked (over `--max-drift`). */
  drift_note: string | null;
};

/**
 * The index to compare; with `--repair`, a damaged one is moved aside (kept, renamed
 * `.damaged-<time>`) and an empty one takes its place, to be rebuilt from the roster.
 */
function openForVerify(ctx: CommandContext, path: string, repair: boolean): IndexStore {
  try {
    return new IndexStore(path, { readOnly: !repair });
  } catch (e) {
    if (!repair || !(e instanceof IndexDamagedError)) throw e;
    const aside = moveAside(path);
    ctx.output.err(
      `the index ${path} is damaged (${e.reason}): moved it to ${aside}; rebuilding it from the campaign\n`,
    );
    return new IndexStore(path);
  }
}

export const verifyCommand = (ctx: CommandContext): Command =>
  campaignOptions(new Command("verify"))
    .summary("compare the campaign in Smartlead with the local index")
    .option(
      "--repair",
      "make the index agree with Smartlead (leads it did not add are kept as someone else's)",
    )
    .option(
      "--max-drift <N|P%>",
      "with --repair, mark at most this many leads whose fields differ for update " +
        "(default: half the compared leads, at least 20)",
    )
    .option("--json", "print the report as JSON on stdout")
    .option("--rate <n/seconds>", "client-side request budget (default 10/2)")
    .action(async (flags: Record<string, unknown>) => {
      const opts = await resolvePushOptions(ctx, [], { ...flags, dryRun: false });
      const client = clientFor(ctx, opts);
      const path = resolveIndexPath(opts.state, opts.baseUrl!, opts.campaignId);
      ctx.report = { index: path, campaign_id: opts.campaignId };
      const repair = flags.repair === true;
      const maxDrift = typeof flags.maxDrift === "string"
        ? parseLimit("--max-drift", flags.maxDrift)
        : undefined;
      const exists = await fileExists(path);
      if (!exists && !repair) {
        throw new UsageError(
          `no index at ${path}`,
          "run push first, or verify --repair to build it from Smartlead",
        );
      }
      if (repair) {
        await makePrivateDir(dirname(path)).catch((e) => {
          throw fileError("create the state directory", dirname(path), e, "check --state");
        });
      }
      // Local checks, then the lock, then the campaign; a failure gives the lock back.
      const lock = repair ? acquireLock(path) : undefined;
      let store: IndexStore;
      try {
        await client.getCampaign(opts.campaignId);
        store = openForVerify(ctx, path, repair);
      } catch (e) {
        lock?.release({ restore: true });
        throw e;
      }
      const progress = flags.json || !ctx.output.errIsTty
        ? undefined
        : new ProgressLine(ctx.output);
      try {
        const log = (line: string) => ctx.output.err(line + "\n");
        const shown = rosterProgress(progress, client);
        const { report: compared, remote } = await compareWithCampaign(
          client,
          store,
          opts.campaignId,
          { log, ...(shown ? { progress: shown } : {}) },
        );
        const clean = agrees(compared);
        let driftMarked = 0;
        let driftNote: string | null = null;
        if (repair) {
          const done = repairIndex(store, compared, remote, {
            ...(maxDrift ? { maxDrift } : {}),
          });
          driftMarked = done.drift_marked;
          driftNote = done.drift_note;
          compared.foreign = done.foreign;
        }
        progress?.stop();
        const report: VerifyReport = {
          ...compared,
          repaired: repair,
          drift_marked: driftMarked,
          drift_note: driftNote,
        };
        ctx.report = { ...ctx.report, ...report };
        if (!flags.json) {
          ctx.output.err(humanLines(report, opts.campaignId).join("\n") + "\n");
        }
        ctx.exitCode = clean || (repair && driftNote === null)
          ? ExitCode.ok
          : ExitCode.verifyDiffers;
      } catch (e) {
        throw environmentError(e, path) ?? e;
      } finally {
        progress?.stop();
        store.close();
        lock?.release();
      }
    });

/** The report for people (stderr). */
function humanLines(r: VerifyReport, campaignId: number): string[] {
  const list = (emails: readonly string[]) => emails.slice(0, 20).map((e) => `  ${e}`);
  const read = r.source === "export"
    ? "read from the campaign export"
    : `read page by page (the export could not be used: ${r.export_fallback})`;
  const lines = [
    `Smartlead: ${plural(r.in_smartlead, "lead")} in campaign ${campaignId} (${read}` +
    `${
      r.skipped_entries ? `; ${r.skipped_entries} entries without a lead or email skipped` : ""
    }); ` +
    `index: ${r.in_index} synced`,
    `in Smartlead but not in the index: ${r.missing_from_index.length}`,
    ...list(r.missing_from_index),
    `in the index but not in Smartlead: ${r.missing_from_smartlead.length}`,
    ...list(r.missing_from_smartlead),
    `lead id mismatches: ${r.lead_id_mismatches.length}`,
    `field values differ (edited in Smartlead?): ${r.field_drift.length} of ${r.fields_compared} compared` +
    (r.fields_not_compared
      ? ` (${r.fields_not_compared} not compared${r.fields_note ? `: ${r.fields_note}` : ""})`
      : ""),
    ...list(r.field_drift),
    ...(r.status_mismatches.length
      ? [
        `paused by smartlead-sync but not paused in Smartlead: ${r.status_mismatches.length}`,
        ...list(r.status_mismatches.map((m) => `${m.email} (${m.smartlead})`)),
      ]
      : []),
    ...(r.foreign
      ? [
        `not added by smartlead-sync: ${r.foreign} (--missing keeps them unless --delete-foreign)`,
      ]
      : []),
  ];
  if (r.drift_note) lines.push(`field drift: ${r.drift_note} (raise --max-drift to mark them)`);
  lines.push(
    agrees(r)
      ? "the index agrees with Smartlead"
      : r.repaired
      ? `repaired: the index now agrees with Smartlead${
        r.drift_marked
          ? `; ${r.drift_marked} leads whose fields differ are updated on the next push`
          : ""
      }`
      : "they differ (exit 9): run verify --repair to fix the index",
  );
  return lines;
}
