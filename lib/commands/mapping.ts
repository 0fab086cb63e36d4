/** `smartlead-sync mapping leads.csv`: the mapping that would be used, column by column. */
import { Command } from "commander";
import { loadConfig } from "../config.ts";
import { env } from "../env.ts";
import { UsageError } from "../errors.ts";
import { csvHeader } from "../input/csv.ts";
import { formatFromName, readText, resolveInputs, sniffFormat } from "../input/source.ts";
import { type ColumnPlan, describePlan, parseMapFlags, planColumns } from "../mapping.ts";
import { parseJsonArray } from "../input/json_array.ts";
import { parseNdjson } from "../input/ndjson.ts";
import type { InputOptions } from "../input/parse.ts";
import { collect, type CommandContext } from "./context.ts";
import { inputOptions, resolveInputOptions } from "./input_options.ts";

/**
 * Reads the start of an input and plans its columns, reading it as `push` would (encoding,
 * `sep=`, preamble, `--columns`, flattened JSON); duplicate header names go to `warn`.
 */
export async function planForFile(
  ctx: CommandContext,
  input: string,
  mapFlags: readonly string[],
  how: InputOptions = {},
  warn?: (message: string) => void,
): Promise<ColumnPlan> {
  const [src] = await resolveInputs([input]);
  let head = "";
  const enc = how.encoding ? { encoding: how.encoding } : {};
  for await (const chunk of readText(src!, ctx.stdin, enc)) {
    head += chunk.text;
    if (head.length > 64 * 1024 || chunk.last) break;
  }
  const format = formatFromName(input) ?? sniffFormat(head, input);
  let columns: readonly string[];
  if (format === "ndjson" || format === "json") {
    columns = await firstObjectKeys(src!.name, head, format, how);
  } else {
    const header = csvHeader(head.slice(0, head.lastIndexOf("\n") + 1) || head, how);
    const at = how.columns ? "--columns" : `line ${header.line}`;
    for (const d of header.duplicates) warn?.(`${src!.name}: ${at}: ${d}`);
    columns = header.columns;
  }
  if (columns.length === 0) {
    throw new UsageError(`${src!.name}: no header row (empty input)`, "add a header line");
  }
  return planColumns(columns, parseMapFlags(mapFlags), true, src!.name);
}

/** The keys of the first object of an NDJSON or JSON-array text, flattened as push does. */
async function firstObjectKeys(
  name: string,
  head: string,
  format: "ndjson" | "json",
  how: InputOptions,
): Promise<readonly string[]> {
  const chunks = ReadableStream.from([{ source: name, text: head, bytesRead: 0, last: false }]);
  const opts = { nested: how.nested ?? "flatten" } as const;
  const rows = format === "json" ? parseJsonArray(chunks, opts) : parseNdjson(chunks, opts);
  for await (const batch of rows) {
    const row = batch.find((r) => r.problem === undefined);
    if (row) return row.columns;
    const bad = batch[0];
    if (bad) throw new UsageError(`${name}: line ${bad.line}: ${bad.problem}`, "check the file");
  }
  return [];
}

export const mappingCommand = (ctx: CommandContext): Command =>
  inputOptions(new Command("mapping"))
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
      const plan = await planForFile(
        ctx,
        input,
        [...fromConfig, ...((flags.map as string[]) ?? [])],
        resolveInputOptions(flags),
        (m) => ctx.output.err(`warning: ${m}\n`),
      );
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
