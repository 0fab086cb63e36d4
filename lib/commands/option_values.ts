/**
 * One rule for every command's options, checked on the raw arguments before commander
 * parses them. Commander gives a value-taking option the next argument whatever it is, so
 * `--tags --dry-run` would tag every lead "--dry-run" and make the run live; and a repeated
 * option silently keeps its last value. Here:
 *
 * - a value that begins with `-` is a usage error unless written `--flag=value`;
 * - an option that takes one value may be given once (repeatable ones accumulate).
 *
 * `-` alone as an operand (stdin) is untouched: only option values are checked. It is accepted
 * as the value of the options for which it means something (`--rejects -`: stdout).
 */
import type { Command, Option } from "commander";
import { UsageError } from "../errors.ts";
import { collect } from "./context.ts";

/** The sub-command the arguments run, and where its arguments start. */
export interface ArgvTarget {
  command: Command | undefined;
  /** Index of the sub-command's name in `args` (-1 when there is none). */
  at: number;
}

/** Options whose value may be `-` alone (it names stdout). */
export const DASH_VALUE: ReadonlySet<string> = new Set(["--rejects"]);

const takesValue = (o: Option) => o.required || o.optional;

/** Options that accumulate (`--map a=b --map c=d`) rather than take one value. */
export const isRepeatable = (o: Option): boolean =>
  o.variadic || (o.parseArg as unknown) === collect;

function findOption(commands: readonly Command[], flag: string): Option | undefined {
  for (const c of commands) {
    const o = c.options.find((x) => x.long === flag || x.short === flag);
    if (o) return o;
  }
  return undefined;
}

/** Finds the sub-command: the first argument that is not one of the program's own options. */
export function argvTarget(program: Command, args: readonly string[]): ArgvTarget {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") break;
    if (a.startsWith("-") && a.length > 1) continue; // the program's options take no value
    const command = program.commands.find((c) => c.name() === a || c.aliases().includes(a));
    return { command, at: command ? i : -1 };
  }
  return { command: undefined, at: -1 };
}

/**
 * Throws `UsageError` for an option value that begins with `-` (unless attached with `=`)
 * and for a single-value option given more than once. Unknown options are left to commander.
 */
export function checkOptionValues(program: Command, args: readonly string[]): void {
  const { command, at } = argvTarget(program, args);
  const scope = command ? [command, program] : [program];
  const given = new Map<Option, number>();
  for (let i = at + 1; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") break;
    if (!arg.startsWith("-") || arg.length < 2) continue; // an operand, "-" included
    let option: Option | undefined;
    let attached = false;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 2) {
      option = findOption(scope, arg.slice(0, eq));
      attached = true;
    } else {
      option = findOption(scope, arg);
      if (!option && !arg.startsWith("--")) {
        // -xVALUE: a short option with its value attached
        option = findOption(scope, arg.slice(0, 2));
        attached = option !== undefined && takesValue(option);
      }
    }
    if (!option || !takesValue(option)) continue;
    const count = (given.get(option) ?? 0) + 1;
    given.set(option, count);
    const name = option.long ?? option.short ?? arg;
    if (count > 1 && !isRepeatable(option)) {
      throw new UsageError(
        `${name} is given more than once`,
        "give it once (a later value does not replace an earlier one)",
      );
    }
    if (attached) continue;
    const value = args[i + 1];
    if (value === undefined) continue; // commander reports the missing value
    if (value.startsWith("-") && !(value === "-" && DASH_VALUE.has(name))) {
      if (option.optional) continue; // commander does not take an option-like optional value
      // Only the flag part of the next argument is shown: it may be `--api-key=<key>`.
      const shown = value.startsWith("--") && value.includes("=")
        ? `${value.slice(0, value.indexOf("="))}=…`
        : value;
      throw new UsageError(
        `${arg} needs a value, but the next argument ${JSON.stringify(shown)} begins with "-"`,
        `give ${arg} its value, or write ${name}=VALUE if the value really begins with "-"`,
      );
    }
    i++; // the value
  }
}
