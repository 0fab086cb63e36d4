/**
 * `smartlead-sync mapping [input]`: the mapping that would be used, column by column. It reads
 * its input like `push` (a file, `-` or nothing for stdin, the same reader and parsers): a
 * CSV's header, or the keys of the NDJSON objects, in first-seen order over the first
 * `MAPPING_SAMPLE` objects (NDJSON rows need not share their keys).
 */
import { Command, Option } from "commander";
import { loadConfig } from "../config.ts";
import { env } from "../env.ts";
import { UsageError } from "../errors.ts";
import { readRows } from "../input/parse.ts";
import { type Format, resolveInputs } from "../input/source.ts";
import { type ColumnPlan, describePlan, parseMapFlags, planColumns } from "../mapping.ts";
import type { InputOptions } from "../input/parse.ts";
import { plural } from "../plural.ts";
import { collect, type CommandContext } from "./context.ts";
import { inputOptions, resolveInputOptions } from "./input_options.ts";

/** How many NDJSON objects `mapping` reads for their keys, at most. */
export const MAPPING_SAMPLE = 10_000;

/** The columns of an input and how they map. */
export interface InputColumns {
  plan: ColumnPlan;
  /** The input as messages name it (`<stdin>` for stdin). */
  name: string;
  format: Format;
  /** NDJSON: the objects whose keys were read, and whether that was all of them. */
  objects?: number;
  complete?: boolean;
}

/**
 * Reads an input's columns (a CSV header, or the union of NDJSON keys) as `push` would read
 * them, and plans their mapping. `input` undefined or `-` is stdin (a terminal is refused).
 */
export async function columnsOf(
  ctx: CommandContext,
  input: string | undefined,
  mapFlags: readonly string[],
  format?: Format,
  how: InputOptions = {},
  warn?: (message: string) => void,
): Promise<InputColumns> {
  const [src] = await resolveInputs(input === undefined ? [] : [input]);
  if (src!.path === undefined && ctx.stdinIsTty) {
    throw new UsageError(
      "no input: stdin is a terminal",
      "name a file (smartlead-sync mapping leads.csv) or pipe data in (... | smartlead-sync mapping)",
    );
  }
  const keys: string[] = [];
  const seen = new Set<string>();
  let objects = 0;
  let complete = true;
  let csv = false;
  read: for await (
    const batch of readRows([src!], {
      stdin: ctx.stdin,
      ...(format ? { format } : {}),
      ...(how.encoding !== undefined ? { encoding: how.encoding } : {}),
      ...(how.nested !== undefined ? { nested: how.nested } : {}),
      csv: { ...csvShape(how), ...(warn ? { warn } : {}) },
    })
  ) {
    for (const row of batch) {
      if (row.header) {
        // CSV: the header is all there is to know.
        csv = true;
        keys.push(...row.columns);
        break read;
      }
      if (row.problem !== undefined) continue; // not an object: no keys
      if (objects >= MAPPING_SAMPLE) {
        complete = false;
        break read;
      }
      objects++;
      for (const k of row.columns) {
        if (!seen.has(k)) {
          seen.add(k);
          keys.push(k);
        }
      }
    }
  }
  if (keys.length === 0) {
    throw new UsageError(
      `${src!.name}: no columns: ${csv ? "the header is empty" : "no JSON object with keys"}`,
      "check the input and its format",
    );
  }
  const plan = planColumns(keys, parseMapFlags(mapFlags), true, src!.name);
  return csv
    ? { plan, name: src!.name, format: "csv" }
    : { plan, name: src!.name, format: "ndjson", objects, complete };
}

/** The CSV part of the input flags, as `readRows` takes it. */
function csvShape(
  how: InputOptions,
): { delimiter?: string; columns?: readonly string[]; skipRows?: number } {
  const { encoding: _e, nested: _n, ...csv } = how;
  return csv;
}

/** Reads the columns of an input and plans them (`init`). */
export async function planForFile(
  ctx: CommandContext,
  input: string,
  mapFlags: readonly string[],
  how: InputOptions = {},
  warn?: (message: string) => void,
): Promise<ColumnPlan> {
  return (await columnsOf(ctx, input, mapFlags, undefined, how, warn)).plan;
}

export const mappingCommand = (ctx: CommandContext): Command =>
  inputOptions(new Command("mapping"))
    .summary("show how each column of a file maps to Smartlead fields (no network)")
    .argument("[input]", 'a CSV or NDJSON file ("-" or none = stdin)')
    .addOption(
      new Option("--format <format>", "input format (default: from the extension, or sniffed)")
        .choices(["csv", "ndjson", "json"]),
    )
    .option("--map <field=column>", "override, as for push (repeatable)", collect)
    .option("--config <path>", "config file whose map is applied")
    .option("--json", "print the mapping as JSON on stdout")
    .action(async (input: string | undefined, flags: Record<string, unknown>) => {
      ctx.report = { input: input ?? "-" };
      const configFlag = flags.config as string | undefined;
      const { config } = await loadConfig(
        configFlag ?? env("SMARTLEAD_SYNC_CONFIG"),
        configFlag === undefined ? "SMARTLEAD_SYNC_CONFIG" : "--config",
      );
      const fromConfig = Object.entries(config.map ?? {}).map(([f, c]) => `${f}=${c}`);
      const found = await columnsOf(
        ctx,
        input,
        [...fromConfig, ...((flags.map as string[]) ?? [])],
        flags.format as Format | undefined,
        resolveInputOptions(flags),
        (m) => ctx.output.err(`warning: ${m}\n`),
      );
      const { plan } = found;
      ctx.report = {
        input: input ?? "-",
        format: found.format,
        ...(found.objects === undefined
          ? {}
          : { objects_read: found.objects, all_objects_read: found.complete }),
        columns: plan.columns.map((c, i) => ({
          column: c,
          target: plan.targets[i],
          how: plan.reasons[i],
        })),
      };
      if (!flags.json) {
        ctx.output.out(describePlan(plan).join("\n") + "\n");
        if (found.objects !== undefined) {
          ctx.output.err(
            found.complete
              ? `keys from ${plural(found.objects, "object")} (all of ${found.name})\n`
              : `keys from the first ${
                plural(found.objects, "object")
              } of ${found.name}; later ones may add more\n`,
          );
        }
      }
      if (plan.emailColumn < 0) {
        throw new UsageError(`${found.name}: no email column`, "name it with --map email=<column>");
      }
    });
