#!/usr/bin/env -S deno run --allow-net --allow-read --allow-write --allow-env
/**
 * Entry point: parses arguments, dispatches to a command, and turns errors into exit
 * codes. Nothing else in the code base exits the process.
 */
import { Command, CommanderError } from "commander";
import { airbyteCommand } from "./lib/commands/airbyte.ts";
import { campaignsCommand } from "./lib/commands/campaigns.ts";
import { checkCommand } from "./lib/commands/check.ts";
import { completionsCommand } from "./lib/commands/completions.ts";
import type { CommandContext } from "./lib/commands/context.ts";
import { argvTarget, checkOptionValues } from "./lib/commands/option_values.ts";
import { jsonRequested, outcomeObject } from "./lib/commands/outcome.ts";
import { initCommand } from "./lib/commands/init.ts";
import { mappingCommand } from "./lib/commands/mapping.ts";
import { pushCommand } from "./lib/commands/push.ts";
import { sandboxCommand } from "./lib/commands/sandbox.ts";
import { singerCommand } from "./lib/commands/singer.ts";
import { stateCommand } from "./lib/commands/state.ts";
import { verifyCommand } from "./lib/commands/verify.ts";
import { ExitCode, SyncError } from "./lib/errors.ts";
import { environmentError } from "./lib/os_errors.ts";
import { type Output, processOutput } from "./lib/output.ts";
import { env } from "./lib/env.ts";
import { redact, registerSecret } from "./lib/redact.ts";
import { VERSION } from "./lib/version.ts";

/** Builds the command tree. */
export function buildProgram(ctx: CommandContext): Command {
  const program = new Command("smartlead-sync")
    .description("Load leads into Smartlead.ai campaigns: incremental, deduplicated, resumable.")
    .version(VERSION, "-V, --version")
    .option("--debug", "show stack traces and request/response lines (API key redacted)")
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText(
      "after",
      `
Exit codes: 0 done, 1 internal error, 2 usage or unusable input, 3 authentication failed,
4 campaign not found, 5 Smartlead unavailable, 6 lead credits exhausted, 7 index locked,
8 the plan deletes more than --max-deletes allows, 9 verify found differences,
130/143 stopped by SIGINT/SIGTERM after finishing the batches in flight.

Quick start:
  smartlead-sync sandbox &                      # a local Smartlead API; prints its URL and key
  smartlead-sync campaigns --base-url <url>     # with SMARTLEAD_API_KEY=sandbox-key: the ids
  smartlead-sync push leads.csv --campaign-id 1 --base-url <url> --api-key sandbox-key`,
    );
  const commands = [
    pushCommand(ctx),
    checkCommand(ctx),
    campaignsCommand(ctx),
    stateCommand(ctx),
    verifyCommand(ctx),
    mappingCommand(ctx),
    initCommand(ctx),
    sandboxCommand(ctx),
    airbyteCommand(ctx),
    singerCommand(ctx),
    completionsCommand(ctx, () => program),
  ];
  for (const c of commands) program.addCommand(c);
  const configure = (cmd: Command) => {
    cmd.exitOverride();
    cmd.configureOutput({
      writeOut: (s) => ctx.output.out(s),
      writeErr: (s) => ctx.output.err(s),
      outputError: (s, write) => write(s),
    });
    cmd.showHelpAfterError("(run with --help for usage)");
    cmd.allowExcessArguments(false);
  };
  configure(program);
  commands.forEach(configure);
  commands.forEach((c) => c.commands.forEach(configure));
  return program;
}

function errorLine(message: string, hint: string | undefined): string {
  return `error: ${message}${hint ? ` — ${hint}` : ""}\n`;
}

/**
 * Registers every API key the arguments or the environment carry, before anything prints
 * (the sandbox's own key is a demo key it shows on purpose).
 */
function registerKeys(program: Command, args: readonly string[]): void {
  registerSecret(env("SMARTLEAD_API_KEY"));
  if (argvTarget(program, args).command?.name() === "sandbox") return;
  args.forEach((a, i) => {
    if (a === "--api-key") registerSecret(args[i + 1]);
    else if (a.startsWith("--api-key=")) registerSecret(a.slice("--api-key=".length));
  });
}

/** Commands whose stdout is a protocol (Airbyte messages, Singer state). */
const PROTOCOL_COMMANDS = new Set(["airbyte", "singer"]);

/**
 * `SMARTLEAD_SYNC_ENTRY=singer` (or `airbyte`) runs that front end without naming it, for
 * runners that cannot pass a subcommand (Meltano): every argument goes to that front end
 * (`--help` is its help). Other values are ignored.
 */
function entryArgs(args: string[]): string[] {
  const entry = env("SMARTLEAD_SYNC_ENTRY");
  if (entry === undefined) return args;
  if (entry !== "singer" && entry !== "airbyte") return args;
  return [entry, ...args];
}

/** Runs the CLI with `args`; returns the exit code. */
export async function main(
  argv: string[],
  output: Output = processOutput(),
  stdin?: ReadableStream<Uint8Array>,
): Promise<number> {
  const startedAt = new Date();
  const args = entryArgs(argv);
  const debug = args.includes("--debug");
  const ctx: CommandContext = {
    output,
    stdin: stdin ?? Deno.stdin.readable,
    debug,
    exitCode: 0,
    stdinIsTty: stdin === undefined && Deno.stdin.isTerminal(),
    json: jsonRequested(args),
    report: {},
  };
  const program = buildProgram(ctx);
  registerKeys(program, args);
  // The protocol front ends own stdout: no --json object there, whatever the exit.
  if (PROTOCOL_COMMANDS.has(argvTarget(program, args).command?.name() ?? "")) ctx.json = false;
  if (args.length === 0) {
    output.err(program.helpInformation());
    return ExitCode.usage;
  }
  // With --json, every exit prints exactly one object on stdout (after the command's output
  // to stderr), so that a `>> runs.jsonl` log keeps the failed runs too.
  const end = (exitCode: number, error?: { message: string; hint?: string | undefined }) => {
    if (ctx.json && (ctx.report !== null || exitCode !== 0)) {
      const object = outcomeObject(ctx.report ?? {}, {
        command: argvTarget(program, args).command?.name() ?? null,
        exitCode,
        error: error?.message ?? null,
        hint: error?.hint ?? null,
        startedAt,
        finishedAt: new Date(),
      });
      output.out(JSON.stringify(object) + "\n");
    }
    return exitCode;
  };
  try {
    checkOptionValues(program, args);
    await program.parseAsync(args, { from: "user" });
    return end(ctx.exitCode);
  } catch (thrown) {
    // A full disk or a read-only directory is the machine's problem, not an internal error.
    const e = environmentError(thrown) ?? thrown;
    if (e instanceof CommanderError) {
      // Asked-for help and --version exit 0; misuse exits 2 (commander printed why).
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version") return 0;
      const message = e.code === "commander.help"
        ? "no command given"
        : e.message.replace(/^error: /, "");
      return end(ExitCode.usage, { message, hint: "run with --help for usage" });
    }
    if (e instanceof SyncError) {
      output.err(errorLine(e.message, e.hint));
      if (debug && e.stack) output.err(redact(e.stack) + "\n");
      return end(e.exitCode, e);
    }
    const err = e instanceof Error ? e : new Error(String(e));
    const failure = {
      message: `internal error: ${err.message}`,
      hint: "run again with --debug and report it",
    };
    output.err(errorLine(failure.message, failure.hint));
    if (debug && err.stack) output.err(redact(err.stack) + "\n");
    return end(ExitCode.internal, failure);
  }
}

if (import.meta.main) {
  const code = await main(Deno.args);
  Deno.exit(code);
}
