/**
 * `smartlead-sync singer`: the Singer target (`target-smartlead`). Singer messages on stdin
 * (or `--input`), state values on stdout, logs on stderr.
 */
import { Command, Option } from "commander";
import { env } from "../env.ts";
import { UsageError } from "../errors.ts";
import { formatAbout, readSingerConfig } from "../singer/about.ts";
import { singerTarget } from "../singer/target.ts";
import { readLines } from "../protocol/lines.ts";
import { VERSION } from "../version.ts";
import { collect, type CommandContext } from "./context.ts";
import { stopOnSignals } from "./signals.ts";

/**
 * The index directory under the Meltano project: `$MELTANO_PROJECT_ROOT`, else the working
 * directory when it holds a meltano.yml; undefined elsewhere (push's default applies).
 */
export async function meltanoStateDir(): Promise<string | undefined> {
  const root = env("MELTANO_PROJECT_ROOT") ??
    (await Deno.stat("meltano.yml").then(() => Deno.cwd(), () => undefined));
  return root === undefined
    ? undefined
    : `${root.replace(/\/+$/, "")}/.meltano/run/target-smartlead`;
}

export const singerCommand = (ctx: CommandContext): Command =>
  new Command("singer")
    .summary("run as a Singer target (target-smartlead, for Meltano)")
    .description(
      "Reads Singer messages (SCHEMA, RECORD, STATE, ACTIVATE_VERSION) and loads the records " +
        "into the campaign; prints each state value on stdout once the records before it are " +
        "committed. Logs go to stderr.",
    )
    .option("--config <path>", "a config file (JSON); repeatable, later files win", collect)
    .option("--input <path>", "read messages from this file instead of stdin")
    .option("--about", "print the capabilities and the settings schema")
    .addOption(
      new Option("--format <format>", "with --about: text (default), json or markdown").choices([
        "text",
        "json",
        "markdown",
      ]),
    )
    .option("--version", "print the version")
    .action(async (flags: {
      config?: string[];
      input?: string;
      about?: boolean;
      format?: string;
      version?: boolean;
    }) => {
      if (flags.version) {
        ctx.output.out(`${VERSION}\n`);
        return;
      }
      if (flags.about) {
        ctx.output.out(formatAbout(flags.format));
        return;
      }
      if (flags.format !== undefined) {
        throw new UsageError("--format goes with --about", "add --about, or drop --format");
      }
      const config = await readSingerConfig(flags.config ?? []);
      let stream = ctx.stdin;
      let file: Deno.FsFile | undefined;
      if (flags.input !== undefined) {
        try {
          file = await Deno.open(flags.input, { read: true });
        } catch (e) {
          throw new UsageError(
            `--input ${flags.input}: cannot read it: ${e instanceof Error ? e.message : String(e)}`,
            "check --input",
          );
        }
        stream = file.readable;
      }
      const log = (line: string) => ctx.output.err(`${line}\n`);
      const stop = stopOnSignals((sig) => log(`${sig}: finishing the batches in flight`));
      try {
        await singerTarget({
          config,
          lines: readLines(stream, flags.input ?? "stdin"),
          inputName: flags.input ?? "stdin",
          emitState: (line) => ctx.output.out(line + "\n"),
          log,
          defaultState: await meltanoStateDir(),
          debug: ctx.debug,
          signal: stop.signal,
        });
      } finally {
        stop.dispose();
      }
    });
