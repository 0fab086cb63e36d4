/**
 * End-to-end test helpers: run the real CLI as a subprocess (from source, or the bundle
 * when SMARTLEAD_SYNC_CLI points at it) with the compile task's permissions plus loopback,
 * against a sandbox on port 0.
 */
import assert from "node:assert/strict";
import { permissionFlags } from "../scripts/permissions.ts";
import { type Summary, WOULD_DELETE_SHOWN } from "../lib/pipeline/report.ts";
import { type Sandbox, type SandboxOptions, startSandbox } from "../lib/sandbox/server.ts";
import { VERSION } from "../lib/version.ts";

const ROOT = new URL("..", import.meta.url).pathname;
/** The entry point under test: cli.ts, or the bundle. */
export const CLI_PATH = Deno.env.get("SMARTLEAD_SYNC_CLI") ?? `${ROOT}cli.ts`;
export const TESTDATA = `${ROOT}tests/testdata`;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string>;
  /** Variables to leave out of the child's environment (e.g. `HOME`, set by default). */
  unsetEnv?: string[];
  stdin?: string | Uint8Array;
  cwd?: string;
  /**
   * Kill the process (SIGKILL unless `signal`) after `afterMs`, or as soon as `when()`
   * (polled every 10 ms) returns true.
   */
  kill?: { afterMs?: number; when?: () => boolean; signal?: Deno.Signal };
}

/**
 * `deno run` arguments that run the CLI under test with the production permission flags
 * (which include loopback, for the sandbox), followed by `args`.
 */
export function cliArgs(args: readonly string[]): string[] {
  const cli = CLI_PATH.startsWith("/") ? CLI_PATH : `${ROOT}${CLI_PATH}`;
  return ["run", "--quiet", ...permissionFlags(), cli, ...args];
}

/** The child's whole environment: a clean one, plus `opts.env`, minus `opts.unsetEnv`. */
function childEnv(opts: RunOptions): Record<string, string> {
  const env: Record<string, string> = {
    NO_COLOR: "1",
    HOME: Deno.env.get("HOME") ?? "/tmp",
    PATH: Deno.env.get("PATH") ?? "",
    DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`,
    ...opts.env,
  };
  for (const name of opts.unsetEnv ?? []) delete env[name];
  return env;
}

/** Spawns `deno run <permissions> cli args...` with a clean environment. */
export async function runCli(args: string[], opts: RunOptions = {}): Promise<CliResult> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: cliArgs(args),
    cwd: opts.cwd ?? ROOT,
    clearEnv: true,
    env: childEnv(opts),
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  });
  const child = cmd.spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(
      typeof opts.stdin === "string" ? new TextEncoder().encode(opts.stdin) : opts.stdin,
    );
    await w.close();
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  let poll: ReturnType<typeof setInterval> | undefined;
  const kill = () => {
    try {
      child.kill(opts.kill!.signal ?? "SIGKILL");
    } catch {
      // already exited
    }
  };
  if (opts.kill?.afterMs !== undefined) timer = setTimeout(kill, opts.kill.afterMs);
  if (opts.kill?.when) {
    const when = opts.kill.when;
    poll = setInterval(() => {
      if (when()) {
        clearInterval(poll);
        kill();
      }
    }, 10);
  }
  const out = await child.output();
  if (timer !== undefined) clearTimeout(timer);
  if (poll !== undefined) clearInterval(poll);
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A fresh temporary directory, removed by the returned disposer. */
export async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "smartlead-sync-test-" });
}

/** Runs `fn` with a sandbox and a state dir; closes and removes both. */
export async function withSandbox(
  opts: SandboxOptions,
  fn: (ctx: { sb: Sandbox; dir: string; env: Record<string, string> }) => Promise<void>,
): Promise<void> {
  const sb = await startSandbox({ apiKey: "test-key-5f3a9c", ...opts });
  const dir = await tempDir();
  try {
    await fn({
      sb,
      dir,
      env: {
        SMARTLEAD_BASE_URL: sb.url,
        SMARTLEAD_API_KEY: sb.apiKey,
        XDG_STATE_HOME: `${dir}/state`,
      },
    });
  } finally {
    await sb.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Requests the sandbox recorded, by kind. */
export function countRequests(
  sb: Sandbox,
): {
  adds: number;
  updates: number;
  deletes: number;
  /** Pause, resume and unsubscribe requests. */
  statuses: number;
  gets: number;
  all: number;
} {
  let adds = 0, updates = 0, deletes = 0, statuses = 0, gets = 0;
  for (const r of sb.requests) {
    if (r.method === "POST" && /\/campaigns\/\d+\/leads(\?|$)/.test(r.path)) adds++;
    else if (r.method === "POST" && /\/campaigns\/\d+\/leads\/\d+(\?|$)/.test(r.path)) updates++;
    else if (r.method === "POST" && /\/leads\/\d+\/(pause|resume|unsubscribe)/.test(r.path)) {
      statuses++;
    } else if (r.method === "DELETE") deletes++;
    else if (r.method === "GET") gets++;
  }
  return { adds, updates, deletes, statuses, gets, all: sb.requests.length };
}

/** Every file under `dir`, recursively, as text (for "the key appears nowhere"). */
export async function readAllFiles(dir: string): Promise<Array<{ path: string; text: string }>> {
  const out: Array<{ path: string; text: string }> = [];
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...await readAllFiles(p));
    else if (e.isFile) {
      out.push({ path: p, text: new TextDecoder().decode(await Deno.readFile(p)) });
    }
  }
  return out;
}

/** Parses the `--json` summary from stdout (exactly one line) and checks its identities. */
export function summaryOf(r: CliResult): Record<string, unknown> {
  const lines = r.stdout.trim().split("\n");
  if (lines.length !== 1) {
    throw new Error(`expected one JSON line on stdout, got:\n${r.stdout}\n${r.stderr}`);
  }
  const summary = JSON.parse(lines[0]!);
  assertIdentities(summary);
  return summary;
}

/**
 * The identities every push summary obeys (README, "The --json summary"), whatever the exit:
 *   rows  = valid + rejected + duplicates_in_input
 *   valid = added + updated + unchanged + skipped_rejected + rejected_by_smartlead + failed
 *           + not_sent
 * plus what follows from them for dry runs and finished runs.
 */
export function assertIdentities(summary: Record<string, unknown>): void {
  // Only push summaries have counts (check, state and verify print other objects).
  if (!("rows" in summary)) return;
  const s = summary as unknown as Summary;
  const counts = [
    "rows",
    "valid",
    "rejected",
    "duplicates_in_input",
    "added",
    "updated",
    "unchanged",
    "skipped_rejected",
    "deleted",
    "failed",
    "rejected_by_smartlead",
    "not_sent",
    "kept_foreign",
    "paused",
    "unsubscribed",
    "resumed",
    "already_gone",
    "not_removed",
    "still_unsubscribed",
    "requests",
    "retries",
  ] as const;
  for (const k of counts) {
    assert.ok(Number.isInteger(s[k]) && s[k] >= 0, `${k} = ${s[k]} in ${JSON.stringify(s)}`);
  }
  const why = JSON.stringify(s);
  assert.equal(s.rows, s.valid + s.rejected + s.duplicates_in_input, `rows: ${why}`);
  assert.equal(
    s.valid,
    s.added + s.updated + s.unchanged + s.skipped_rejected + s.rejected_by_smartlead + s.failed +
      s.not_sent,
    `valid: ${why}`,
  );
  assert.equal(s.unchanged, s.planned.unchanged, `unchanged: ${why}`);
  assert.ok(s.retries <= s.requests, `retries: ${why}`);
  if (s.dry_run) {
    assert.deepEqual(
      [s.added, s.updated, s.deleted, s.failed, s.rejected_by_smartlead],
      [0, 0, 0, 0, 0],
      `dry run: ${why}`,
    );
    assert.equal(s.not_sent, s.planned.add + s.planned.update, `dry run: ${why}`);
  } else if (s.exit_code === 0) {
    assert.equal(s.not_sent, 0, `finished: ${why}`);
    assert.equal(s.deleted, s.planned.delete, `finished: ${why}`);
    // Every planned removal and resume is done, found gone, or refused (and reported).
    const removed = s.missing === "delete" ? s.deleted : s.paused + s.unsubscribed;
    assert.equal(
      removed + s.resumed + s.already_gone + s.not_removed,
      s.planned.remove + s.planned.resume,
      `removals: ${why}`,
    );
  }
  if (s.dry_run) {
    assert.deepEqual([s.paused, s.unsubscribed, s.resumed], [0, 0, 0], `dry run: ${why}`);
  }
  if (s.would_remove !== undefined) {
    assert.equal(s.would_remove_count, s.planned.remove, `would_remove: ${why}`);
    assert.equal(s.would_remove.length, Math.min(s.planned.remove, WOULD_DELETE_SHOWN), why);
  }
  if (s.would_delete !== undefined) {
    assert.equal(s.would_delete_count, s.planned.delete, `would_delete: ${why}`);
    assert.equal(s.would_delete.length, Math.min(s.planned.delete, WOULD_DELETE_SHOWN), why);
  }
}

/**
 * The one `--json` object of a run that ended with `r.code`, checked for what every exit
 * carries: the command, exit_code, error and hint (null on success), version, ISO times.
 */
export function outcomeOf(r: CliResult, command: string | null): Record<string, unknown> {
  const o = summaryOf(r);
  const fail = (what: string) => new Error(`${what}:\n${r.stdout}\n${r.stderr}`);
  if (o.command !== command) throw fail(`command is not ${command}`);
  if (o.exit_code !== r.code) throw fail(`exit_code is not ${r.code}`);
  if (o.version !== VERSION) throw fail("version");
  const iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
  const [started, finished] = [String(o.started_at), String(o.finished_at)];
  if (!iso.test(started) || !iso.test(finished) || started > finished) throw fail("times");
  if (r.code === 0 ? o.error !== null || o.hint !== null : typeof o.error !== "string") {
    throw fail("error");
  }
  if (r.code !== 0 && (typeof o.hint !== "string" || !r.stderr.includes(String(o.error)))) {
    throw fail("hint, or the error is not the one on stderr");
  }
  return o;
}

/**
 * Runs the CLI under a pseudo-terminal (util-linux `script`), typing `input` into it; returns
 * its exit code and everything the terminal showed (stdout and stderr, with the \r and
 * escape sequences of the progress line).
 */
export async function underTerminal(
  args: string[],
  env: Record<string, string>,
  input = "",
): Promise<{ code: number; text: string }> {
  // A wide terminal: the progress line is cut to the terminal's width.
  const cmd = "stty cols 300 2>/dev/null; " +
    [Deno.execPath(), ...cliArgs(args)].map((a) => `'${a}'`).join(" ");
  const child = new Deno.Command("script", {
    args: ["-qefc", cmd, "/dev/null"],
    env: { ...env, NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  if (input !== "") await w.write(new TextEncoder().encode(input));
  await w.close();
  const out = await child.output();
  return { code: out.code, text: new TextDecoder().decode(out.stdout) };
}

/** A `smartlead-sync sandbox --json` process: what it printed on its first line, and a stop. */
export interface SandboxCli {
  /** The ready line: `url`, `api_key`, `campaign_ids`. */
  info: { url: string; api_key: string; campaign_ids: number[] };
  /** SIGTERM, then its exit code and stderr. */
  stop(): Promise<{ code: number; stderr: string }>;
}

/** Starts the real `sandbox` sub-command with `--json` and `args`; waits for its ready line. */
export async function sandboxCli(args: readonly string[]): Promise<SandboxCli> {
  const child = new Deno.Command(Deno.execPath(), {
    args: cliArgs(["sandbox", "--json", ...args]),
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const r = await reader.read();
    if (r.done) break;
    text += r.value;
  }
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already exited
    }
    await reader.cancel();
    const status = await child.status;
    return { code: status.code, stderr: await stderr };
  };
  try {
    return { info: JSON.parse(text.split("\n")[0]!), stop };
  } catch (e) {
    await stop();
    throw new Error(`sandbox did not print its JSON ready line: ${JSON.stringify(text)}`, {
      cause: e,
    });
  }
}
