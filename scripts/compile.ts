/**
 * `deno task compile [--target T] [--base-url URL] [--output PATH]`: builds the single
 * executable with least-privilege permissions baked in. `deno compile` downloads its
 * `denort` runtime unless `DENORT_BIN` points at one (offline builds).
 */
import { permissionFlags, V8_FLAGS } from "./permissions.ts";

const args = [...Deno.args];
function take(flag: string): string | undefined {
  const i = args.indexOf(flag);
  if (i < 0) return undefined;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
}
const target = take("--target");
const baseUrl = take("--base-url");
const extraHosts = baseUrl ? [new URL(baseUrl).host] : [];
const output = take("--output") ??
  `dist/smartlead-sync${target ? `-${target}` : ""}${target?.includes("windows") ? ".exe" : ""}`;
const cmd = [
  "compile",
  ...permissionFlags(extraHosts),
  ...(target ? ["--target", target] : []),
  // The parse worker is loaded by URL at run time, so it must be included by name.
  "--include",
  "lib/engine/parse_worker.ts",
  // Smaller young generation and no pretenuring: peak RSS about halves (README, benchmark).
  `--v8-flags=${V8_FLAGS}`,
  "--output",
  output,
  ...args,
  "cli.ts",
];
// deno-lint-ignore no-console
console.error(`deno ${cmd.join(" ")}`);
const { code } = await new Deno.Command(Deno.execPath(), {
  args: cmd,
  stdout: "inherit",
  stderr: "inherit",
})
  .output();
Deno.exit(code);
