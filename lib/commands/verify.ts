/**
 * `smartlead-sync verify`: pages the campaign roster and compares it with the index;
 * `--repair` brings the index in line with Smartlead. Exits 9 when they differ (and were
 * not repaired), 0 when they agree, like `git diff --exit-code`.
 */
import { Command } from "commander";
import { ExitCode, IndexDamagedError, UsageError } from "../errors.ts";
import { acquireLock } from "../index/lock.ts";
import { moveAside } from "../index/open.ts";
import { dirname, fileExists, resolveIndexPath } from "../index/paths.ts";
import { IndexStore } from "../index/store.ts";
import { environmentError } from "../os_errors.ts";
import { fileError, makePrivateDir } from "../private_files.ts";
import { normalizeEmail } from "../lead.ts";
import { ProgressLine, rosterProgress } from "../progress.ts";
import { campaignOptions, clientFor, resolvePushOptions } from "./push.ts";
import type { CommandContext } from "./context.ts";
import { plural } from "../plural.ts";

/** The differences between the roster and the index. */
export interface VerifyReport {
  in_smartlead: number;
  in_index: number;
  missing_from_index: string[];
  missing_from_smartlead: string[];
  lead_id_mismatches: Array<{ email: string; index: number | null; smartlead: number }>;
  /** Synced leads in the index that this tool did not add (`--delete-missing` keeps them). */
  foreign: number;
  repaired: boolean;
}

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
    .option("--json", "print the report as JSON on stdout")
    .option("--rate <n/seconds>", "client-side request budget (default 10/2)")
    .action(async (flags: Record<string, unknown>) => {
      const opts = await resolvePushOptions(ctx, [], { ...flags, dryRun: false });
      const client = clientFor(ctx, opts);
      const path = resolveIndexPath(opts.state, opts.baseUrl!, opts.campaignId);
      ctx.report = { index: path, campaign_id: opts.campaignId };
      const repair = flags.repair === true;
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
        const remote = new Map<string, number>();
        const roster = client.roster(opts.campaignId, rosterProgress(progress, client));
        for await (const page of roster) {
          for (const e of page) remote.set(normalizeEmail(e.lead.email), Number(e.lead.id));
        }
        progress?.stop();
        const report: VerifyReport = {
          in_smartlead: remote.size,
          in_index: 0,
          missing_from_index: [],
          missing_from_smartlead: [],
          lead_id_mismatches: [],
          foreign: 0,
          repaired: false,
        };
        const seen = new Set<string>();
        const foreign = new Set<string>();
        for (const lead of store.all()) {
          if (lead.status !== "synced") continue;
          report.in_index++;
          if (lead.origin === "foreign") foreign.add(lead.email);
          seen.add(lead.email);
          const id = remote.get(lead.email);
          if (id === undefined) report.missing_from_smartlead.push(lead.email);
          else if (lead.lead_id !== null && Number(lead.lead_id) !== id) {
            report.lead_id_mismatches.push({
              email: lead.email,
              index: Number(lead.lead_id),
              smartlead: id,
            });
          }
        }
        for (const email of remote.keys()) {
          if (!seen.has(email)) report.missing_from_index.push(email);
        }
        if (repair) {
          // Leads only Smartlead has: known, but their payload is unknown (hash "?"), so the
          // next push sends an update for them, which is what makes both sides agree. This
          // tool did not add them, so --delete-missing leaves them alone (unless
          // --delete-foreign): an index rebuilt from the campaign deletes nothing by itself.
          store.record(
            report.missing_from_index.map((email) => ({
              email,
              hash: "?",
              status: "synced" as const,
              leadId: remote.get(email)!,
              origin: "foreign" as const,
            })),
          );
          for (const email of report.missing_from_index) foreign.add(email);
          for (const email of report.missing_from_smartlead) foreign.delete(email);
          store.forget(report.missing_from_smartlead);
          store.setLeadIds([...remote.entries()]);
          report.repaired = true;
        }
        report.foreign = foreign.size;
        const clean = report.missing_from_index.length === 0 &&
          report.missing_from_smartlead.length === 0 && report.lead_id_mismatches.length === 0;
        ctx.report = { ...ctx.report, ...report };
        if (!flags.json) {
          const lines = [
            `Smartlead: ${
              plural(report.in_smartlead, "lead")
            } in campaign ${opts.campaignId}; index: ${report.in_index} synced`,
            `in Smartlead but not in the index: ${report.missing_from_index.length}`,
            ...report.missing_from_index.slice(0, 20).map((e) => `  ${e}`),
            `in the index but not in Smartlead: ${report.missing_from_smartlead.length}`,
            ...report.missing_from_smartlead.slice(0, 20).map((e) => `  ${e}`),
            `lead id mismatches: ${report.lead_id_mismatches.length}`,
            ...(report.foreign
              ? [
                `not added by smartlead-sync: ${report.foreign} (--delete-missing keeps them unless --delete-foreign)`,
              ]
              : []),
            clean
              ? "the index agrees with Smartlead"
              : repair
              ? "repaired: the index now agrees with Smartlead"
              : "they differ (exit 9): run verify --repair to fix the index",
          ];
          ctx.output.err(lines.join("\n") + "\n");
        }
        ctx.exitCode = clean || repair ? ExitCode.ok : ExitCode.verifyDiffers;
      } catch (e) {
        throw environmentError(e, path) ?? e;
      } finally {
        progress?.stop();
        store.close();
        lock?.release();
      }
    });
