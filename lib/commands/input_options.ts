/**
 * The flags that say how inputs are read (encoding, CSV shape, nested JSON), shared by
 * `push` and `mapping`, and their checking: a bad value is a usage error before any work.
 */
import { type Command, Option } from "commander";
import { UsageError } from "../errors.ts";
import { checkEncoding } from "../input/decode.ts";
import type { InputOptions } from "../input/parse.ts";
import { intOption } from "./context.ts";

/** Registers the input flags on `cmd`. */
export function inputOptions(cmd: Command): Command {
  return cmd
    .option(
      "--encoding <name>",
      "text encoding when the file has no byte-order mark: utf-8 (default), windows-1252 " +
        "(Excel on Windows), utf-16le, latin1, ...",
    )
    .option("--delimiter <char>", "CSV delimiter: a character, or tab, comma, semicolon, pipe")
    .option("--no-header", "the CSV has no header line (name its columns with --columns)")
    .option("--columns <a,b,c>", "column names for a CSV without a header line")
    .option("--skip-rows <n>", "CSV lines to skip before the header (a preamble)")
    .addOption(
      new Option(
        "--nested <mode>",
        "NDJSON/JSON nested objects: flatten to parent.child custom fields (default), or reject",
      ).choices(["flatten", "reject"]),
    );
}

const NAMED: Record<string, string> = {
  tab: "\t",
  "\\t": "\t",
  comma: ",",
  semicolon: ";",
  pipe: "|",
  space: " ",
};

/** Reads the input flags; `--no-header` and `--columns` go together. */
export function resolveInputOptions(flags: Record<string, unknown>): InputOptions {
  const str = (k: string) => (typeof flags[k] === "string" ? flags[k] as string : undefined);
  const out: InputOptions = {};
  const encoding = str("encoding");
  if (encoding !== undefined) out.encoding = checkEncoding(encoding);
  const delimiter = str("delimiter");
  if (delimiter !== undefined) {
    const d = NAMED[delimiter.toLowerCase()] ?? delimiter;
    if ([...d].length !== 1 || d === '"' || d === "\n" || d === "\r") {
      throw new UsageError(
        `--delimiter ${JSON.stringify(delimiter)}: expected one character`,
        'e.g. --delimiter ";" or --delimiter tab',
      );
    }
    out.delimiter = d;
  }
  const columns = str("columns");
  const noHeader = flags.header === false;
  if (columns !== undefined) {
    const names = columns.split(",").map((c) => c.trim());
    if (names.some((n) => n === "")) {
      throw new UsageError(
        `--columns ${JSON.stringify(columns)}: an empty column name`,
        "e.g. --columns email,first_name,company",
      );
    }
    if (!noHeader) {
      throw new UsageError(
        "--columns names the columns of a CSV without a header line",
        "add --no-header (or drop --columns to read the header)",
      );
    }
    out.columns = names;
  } else if (noHeader) {
    throw new UsageError(
      "--no-header needs the column names",
      "pass them in order, e.g. --columns email,first_name,company",
    );
  }
  const skip = intOption("--skip-rows", str("skipRows"), 0, 1_000_000);
  if (skip !== undefined) out.skipRows = skip;
  const nested = str("nested");
  if (nested === "flatten" || nested === "reject") out.nested = nested;
  return out;
}
