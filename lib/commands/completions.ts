/** `smartlead-sync completions bash|zsh|fish`: shell completion scripts from the command tree. */
import { Command } from "commander";
import { UsageError } from "../errors.ts";
import type { CommandContext } from "./context.ts";

interface Spec {
  name: string;
  flags: string[];
}

function specs(program: Command): Spec[] {
  return program.commands.map((c) => ({
    name: c.name(),
    flags: c.options.filter((o) => !o.hidden).map((o) => o.long!).filter(Boolean).concat([
      "--help",
    ]),
  }));
}

/** The completion script for a shell. */
export function completionScript(shell: string, program: Command): string {
  const cmds = specs(program);
  const names = cmds.map((c) => c.name).join(" ");
  if (shell === "bash") {
    const cases = cmds.map((c) => `    ${c.name}) opts="${c.flags.join(" ")}" ;;`).join("\n");
    return `# bash completion for smartlead-sync; source it or put it in /etc/bash_completion.d/
_smartlead_sync() {
  local cur cmd opts
  cur="\${COMP_WORDS[COMP_CWORD]}"
  cmd="\${COMP_WORDS[1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${names} --help --version" -- "$cur") )
    return
  fi
  case "$cmd" in
${cases}
    completions) opts="bash zsh fish" ;;
    *) opts="" ;;
  esac
  if [[ "$cur" == -* || "$cmd" == completions ]]; then
    COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
  else
    COMPREPLY=( $(compgen -f -- "$cur") )
  fi
}
complete -o default -F _smartlead_sync smartlead-sync
`;
  }
  if (shell === "zsh") {
    const cases = cmds.map((c) =>
      `    ${c.name}) _arguments ${c.flags.map((f) => `'${f}[]'`).join(" ")} '*:file:_files' ;;`
    ).join("\n");
    return `#compdef smartlead-sync
# zsh completion for smartlead-sync; put it in a directory on $fpath as _smartlead-sync
_smartlead-sync() {
  if (( CURRENT == 2 )); then
    compadd ${names}
    return
  fi
  case "$words[2]" in
${cases}
  esac
}
compdef _smartlead-sync smartlead-sync
`;
  }
  if (shell === "fish") {
    const lines = [
      "# fish completion for smartlead-sync; put it in ~/.config/fish/completions/",
      `complete -c smartlead-sync -f -n "__fish_use_subcommand" -a "${names}"`,
    ];
    for (const c of cmds) {
      for (const f of c.flags) {
        lines.push(
          `complete -c smartlead-sync -n "__fish_seen_subcommand_from ${c.name}" -l ${f.slice(2)}`,
        );
      }
    }
    return lines.join("\n") + "\n";
  }
  throw new UsageError(`unknown shell ${JSON.stringify(shell)}`, "use bash, zsh or fish");
}

export const completionsCommand = (ctx: CommandContext, program: () => Command): Command =>
  new Command("completions")
    .summary("print a shell completion script (bash, zsh or fish)")
    .argument("<shell>", "bash, zsh or fish")
    .action((shell: string) => {
      ctx.output.out(completionScript(shell, program()));
    });
