/** `smartlead-sync mapping leads.csv`: the mapping that would be used, column by column. */
import { Command } from "commander";
import { loadConfig } from "../config.ts";
import { env } from "../env.ts";
import { UsageError } from "../errors.ts";
import { csvHeader } from "../input/csv.ts";
import { formatFromName, readText, resolveInputs, sniffFormat } from "../input/source.ts";
import { type ColumnPlan, describePlan, parseMapFlags, planColumns } from "../mapping.ts";
import { collect, type CommandContext } from "./context.ts";

/** Reads the start of an input and plans its columns. */
export async function planForFile(
  ctx: CommandContext,
  input: string,
  mapFlags: readonly string[],
): Promise<ColumnPlan> {
  const [src] = await resolveInputs([input]);
  let head = "";
  for await (const chunk of readText(src!, ctx.stdin)) {
    head += chunk.text;
    if (head.length > 64 * 1024 || chunk.last) break;
  }
  const format = formatFromName(input) ?? sniffFormat(head);
  let columns: string[];
  if (format === "ndjson") {
    const first = head.split("\n").find((l) => l.trim() !== "");
    try {
      columns = Object.keys(JSON.parse(first ?? "{}"));
    } catch {
      throw new UsageError(`${src!.name}: line 1: invalid JSON`, "check the file");
    }
  } else {
    columns = csvHeader(head.slice(0, head.lastIndexOf("\n") + 1) || head).columns;
  }
  if (columns.length === 0) {
    throw new UsageError(`${src!.name}: no header row (empty input)`, "add a header line");
  }
  return planColumns(columns, parseMapFlags(mapFlags), true, src!.name);
}

export const mappingCommand = (ctx: CommandContext): Command =>
  new Command("mapping")
    .summary("show how each column of a file maps to Smartlead fields (no network)")
    .argument("<input>", 'a CSV or NDJSON file ("-" = stdin)')
    .option("--map <field=column>", "override, as for push (repeatable)", collect)
    .option("--config <path>", "config file whose map is applied")
    .option("--json", "print the mapping as JSON on stdout")
    .action(async (input: string, flags: Record<string, unknown>) => {
      ctx.report = { input };
      const configFlag = flags.config as string | undefined;
      const { config } = await loadConfig(
        configFlag ?? env("SMARTLEAD_SYNC_CONFIG"),
        configFlag === undefined ? "SMARTLEAD_SYNC_CONFIG" : "--config",
      );
      const fromConfig = Object.entries(config.map ?? {}).map(([f, c]) => `${f}=${c}`);
      const plan = await planForFile(ctx, input, [
        ...fromConfig,
        ...((flags.map as string[]) ?? []),
      ]);
      ctx.report = {
        input,
        columns: plan.columns.map((c, i) => ({
          column: c,
          target: plan.targets[i],
          how: plan.reasons[i],
        })),
      };
      if (!flags.json) ctx.output.out(describePlan(plan).join("\n") + "\n");
      if (plan.emailColumn < 0) {
        throw new UsageError(`${input}: no email column`, "name it with --map email=<column>");
      }
    });
