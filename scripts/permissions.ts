/**
 * The permissions the tool runs with, declared once: the compile task bakes them into the
 * executable and the end-to-end tests run the CLI (source or bundle) with exactly these,
 * plus loopback for the sandbox, so a permission the binary lacks fails a test first.
 */
import { ENV_VARS } from "../lib/env.ts";

export const SMARTLEAD_HOST = "server.smartlead.ai";
/**
 * Loopback, for the built-in `sandbox` (it listens there) and pushes into it: the sandbox is
 * part of the product, and the demo and quick start run it beside the binary.
 */
export const LOOPBACK = "127.0.0.1";

/**
 * Deno permission flags. `extraHosts` widens the network list (a `--base-url` host the
 * executable is compiled for; loopback in tests).
 *
 * Read and write are not narrowed to the state directory: inputs, `--rejects`, `--state`
 * and `init` name paths the user chooses at run time.
 */
export function permissionFlags(extraHosts: readonly string[] = []): string[] {
  return [
    `--allow-net=${[...new Set([SMARTLEAD_HOST, LOOPBACK, ...extraHosts])].join(",")}`,
    "--allow-read",
    "--allow-write",
    `--allow-env=${ENV_VARS.join(",")}`,
    "--allow-sys=hostname",
  ];
}

/**
 * V8 flags the executable is built with (`deno compile --v8-flags`; the bench passes them
 * to `deno run` too). A program cannot set them itself. Measured on the 1M-row benchmark
 * file (README, "Benchmarks"): a young generation of 2 MB semi-spaces instead of 16, and no
 * allocation-site pretenuring (which put short-lived parse results straight into the old
 * generation), keep the peak RSS of reading a file at about half.
 */
export const V8_FLAGS = "--max-semi-space-size=2,--no-allocation-site-pretenuring";

if (import.meta.main) {
  // deno-lint-ignore no-console
  console.log(permissionFlags(Deno.args).join(" "));
}
