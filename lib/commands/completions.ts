/**
 * `smartlead-sync completions bash|zsh|fish`: shell completion scripts generated from the
 * command tree, so that every option (and the values of those with a fixed set) is offered.
 */
import { type Command, Command as CommandClass, type Option } from "commander";
import { UsageError } from "../errors.ts";
import type { CommandContext } from "./context.ts";

/** What a completion script needs to know of one option. */
interface OptSpec {
  /** `--name`. */
  long: string;
  description: string;
  /** Takes a value (`--name <value>`). */
  takesValue: boolean;
  /** The fixed set of values, when there is one. */
  choices: readonly string[] | undefined;
  /** The value is a path (complete file names). */
  path: boolean;
}

interface CmdSpec {
  name: string;
  description: string;
  opts: OptSpec[];
  /** Fixed values of the first positional argument (e.g. the shells of `completions`). */
  args: readonly string[] | undefined;
}

const SHELLS = ["bash", "zsh", "fish"] as const;

/** Options whose value is a file or directory name. */
const PATH_VALUE = /^(config|state|rejects|input|api-key-file|catalog)$/;

function optSpec(o: Option): OptSpec | undefined {
  if (!o.long || o.hidden) return undefined;
  const name = o.long.slice(2);
  return {
    long: o.long,
    description: o.description,
    takesValue: o.required || o.optional,
    choices: o.argChoices,
    path: PATH_VALUE.test(name),
  };
}

function specs(program: Command): CmdSpec[] {
  const help: OptSpec = {
    long: "--help",
    description: "show help",
    takesValue: false,
    choices: undefined,
    path: false,
  };
  return program.commands.map((c) => ({
    name: c.name(),
    description: c.summary() || c.description(),
    opts: [...c.options.map(optSpec).filter((o): o is OptSpec => o !== undefined), help],
    args: c.name() === "completions" ? SHELLS : c.registeredArguments[0]?.argChoices,
  }));
}

/** Single-quoted for any of the three shells (no shell expands inside single quotes). */
function sq(text: string): string {
  return `'${text.replaceAll("'", `'"'"'`)}'`;
}

/** zsh `_arguments` descriptions: brackets and colons are syntax there. */
function zdesc(text: string): string {
  return text.replace(/[[\]:\\]/g, (c) => `\\${c}`).replaceAll("'", "");
}

function bashScript(cmds: CmdSpec[]): string {
  const flagCases = cmds.map((c) =>
    `    ${c.name}) opts=${sq(c.opts.map((o) => o.long).join(" "))}; args=${
      sq((c.args ?? []).join(" "))
    } ;;`
  ).join("\n");
  // The values of an option that takes one, keyed "command --option".
  const valueCases = cmds.flatMap((c) =>
    c.opts.filter((o) => o.takesValue).map((o) =>
      `    ${sq(`${c.name} ${o.long}`)}) ${
        o.choices
          ? `COMPREPLY=( $(compgen -W ${sq(o.choices.join(" "))} -- "$cur") )`
          : o.path
          ? `COMPREPLY=( $(compgen -f -- "$cur") )`
          : "COMPREPLY=()"
      }; return ;;`
    )
  ).join("\n");
  return `# bash completion for smartlead-sync; source it or put it in /etc/bash_completion.d/
_smartlead_sync() {
  local cur prev cmd opts args
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cmd="\${COMP_WORDS[1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W ${
    sq(cmds.map((c) => c.name).join(" "))
  }" --help --version" -- "$cur") )
    return
  fi
  if [[ "$prev" == --* && "$cur" != -* ]]; then
    case "$cmd $prev" in
${valueCases}
    esac
  fi
  case "$cmd" in
${flagCases}
    *) opts=""; args="" ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
  elif [ -n "$args" ]; then
    COMPREPLY=( $(compgen -W "$args" -- "$cur") )
  else
    COMPREPLY=( $(compgen -f -- "$cur") )
  fi
}
complete -o default -F _smartlead_sync smartlead-sync
`;
}

function zshScript(cmds: CmdSpec[]): string {
  const spec = (o: OptSpec) => {
    const head = `${o.long}[${zdesc(o.description)}]`;
    if (!o.takesValue) return sq(head);
    const value = o.long.slice(2);
    if (o.choices) return sq(`${head}:${value}:(${o.choices.join(" ")})`);
    return sq(`${head}:${value}:${o.path ? "_files" : " "}`);
  };
  const cases = cmds.map((c) => {
    const rest = c.args ? sq(`1:${c.name}:(${c.args.join(" ")})`) : sq("*:file:_files");
    return `    ${c.name}) _arguments ${c.opts.map(spec).join(" ")} ${rest} ;;`;
  }).join("\n");
  const described = cmds.map((c) => sq(`${c.name}:${c.description.replaceAll(":", "\\:")}`));
  return `#compdef smartlead-sync
# zsh completion for smartlead-sync; put it in a directory on $fpath as _smartlead-sync
_smartlead-sync() {
  if (( CURRENT == 2 )); then
    local -a commands
    commands=(${described.join(" ")})
    _describe command commands
    return
  fi
  local curcontext="$curcontext"
  shift words
  (( CURRENT-- ))
  case "$words[1]" in
${cases}
  esac
}
compdef _smartlead-sync smartlead-sync
`;
}

function fishScript(cmds: CmdSpec[]): string {
  const names = cmds.map((c) => c.name).join(" ");
  const lines = [
    "# fish completion for smartlead-sync; put it in ~/.config/fish/completions/",
    "complete -c smartlead-sync -f",
  ];
  for (const c of cmds) {
    lines.push(
      `complete -c smartlead-sync -n ${
        sq(`not __fish_seen_subcommand_from ${names}`)
      } -a ${c.name} -d ${sq(c.description)}`,
    );
  }
  for (const c of cmds) {
    const when = `-n ${sq(`__fish_seen_subcommand_from ${c.name}`)}`;
    if (c.args) lines.push(`complete -c smartlead-sync ${when} -a ${sq(c.args.join(" "))}`);
    else lines.push(`complete -c smartlead-sync ${when} -F`);
    for (const o of c.opts) {
      const value = !o.takesValue
        ? ""
        : o.choices
        ? ` -x -a ${sq(o.choices.join(" "))}`
        : o.path
        ? " -r -F"
        : " -x";
      lines.push(
        `complete -c smartlead-sync ${when} -l ${o.long.slice(2)}${value} -d ${sq(o.description)}`,
      );
    }
  }
  return lines.join("\n") + "\n";
}

/** The completion script for a shell. */
export function completionScript(shell: string, program: Command): string {
  const cmds = specs(program);
  if (shell === "bash") return bashScript(cmds);
  if (shell === "zsh") return zshScript(cmds);
  if (shell === "fish") return fishScript(cmds);
  throw new UsageError(`unknown shell ${JSON.stringify(shell)}`, "use bash, zsh or fish");
}

export const completionsCommand = (ctx: CommandContext, program: () => Command): Command =>
  new CommandClass("completions")
    .summary("print a shell completion script (bash, zsh or fish)")
    .argument("<shell>", "bash, zsh or fish")
    .action((shell: string) => {
      ctx.output.out(completionScript(shell, program()));
    });
