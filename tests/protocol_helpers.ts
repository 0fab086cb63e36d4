/**
 * Helpers for the Airbyte and Singer end-to-end tests: run the CLI while reading its stdout
 * line by line (so a test can look at the sandbox at the moment each state comes out), and
 * build protocol messages, configs and catalogs.
 */
import assert from "node:assert/strict";
import { OutputMessageSchema } from "../lib/airbyte/messages.ts";
import type { Sandbox } from "../lib/sandbox/server.ts";
import { cliArgs, type CliResult } from "./helpers.ts";

const ROOT = new URL("..", import.meta.url).pathname;

export interface StreamingOptions {
  env: Record<string, string>;
  stdin: string;
  cwd?: string;
  /** Called with each stdout line as it arrives (before the next is read). */
  onLine?: (line: string) => void;
  /** SIGKILL the process as soon as this returns true (polled every 10 ms). */
  killWhen?: () => boolean;
  /**
   * Keep stdin open after `stdin` was written (a source that pauses) until `then()` says
   * what else to write and close with; polled every 10 ms.
   */
  pause?: { then: () => string | undefined };
}

/** Spawns the CLI with `args`, feeding `stdin`, handing each stdout line to `onLine`. */
export async function runStreaming(args: string[], opts: StreamingOptions): Promise<CliResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: cliArgs(args),
    cwd: opts.cwd ?? ROOT,
    clearEnv: true,
    env: {
      NO_COLOR: "1",
      HOME: Deno.env.get("HOME") ?? "/tmp",
      PATH: Deno.env.get("PATH") ?? "",
      DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`,
      ...opts.env,
    },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let poll: ReturnType<typeof setInterval> | undefined;
  if (opts.killWhen) {
    const when = opts.killWhen;
    poll = setInterval(() => {
      if (when()) {
        clearInterval(poll);
        try {
          child.kill("SIGKILL");
        } catch {
          // already exited
        }
      }
    }, 10);
  }
  const writing = (async () => {
    const w = child.stdin.getWriter();
    try {
      await w.write(new TextEncoder().encode(opts.stdin));
      const pause = opts.pause;
      if (pause) {
        let rest: string | undefined;
        while ((rest = pause.then()) === undefined) {
          await new Promise((r) => setTimeout(r, 10));
        }
        await w.write(new TextEncoder().encode(rest));
      }
      await w.close();
    } catch {
      // the process ended (or was killed) before reading all of it
    }
  })();
  const stderr = new Response(child.stderr).text();
  let stdout = "";
  let partial = "";
  const dec = new TextDecoder();
  for await (const chunk of child.stdout) {
    const text = partial + dec.decode(chunk, { stream: true });
    const lines = text.split("\n");
    partial = lines.pop()!;
    for (const line of lines) {
      stdout += line + "\n";
      opts.onLine?.(line);
    }
  }
  stdout += partial;
  const status = await child.status;
  if (poll !== undefined) clearInterval(poll);
  await writing;
  return { code: status.code, stdout, stderr: await stderr };
}

/** Every stdout line parsed and checked against the schemas of the messages we write. */
export function airbyteMessages(stdout: string): Array<Record<string, unknown>> {
  const lines = stdout.split("\n").filter((l) => l !== "");
  return lines.map((line) => {
    const parsed = OutputMessageSchema.safeParse(JSON.parse(line));
    assert.ok(parsed.success, `not a valid Airbyte message: ${line}`);
    return parsed.data as Record<string, unknown>;
  });
}

/** The lines of stdout that are STATE messages, as written. */
export function stateLines(stdout: string): string[] {
  return stdout.split("\n").filter((l) => l !== "" && JSON.parse(l).type === "STATE");
}

/** LOG messages of one level. */
export function logs(stdout: string, level: string): string[] {
  return airbyteMessages(stdout)
    .filter((m) => m.type === "LOG" && (m.log as { level: string }).level === level)
    .map((m) => (m.log as { message: string }).message);
}

/** An Airbyte RECORD line. */
export function record(stream: string, data: unknown, namespace?: string): string {
  return JSON.stringify({
    type: "RECORD",
    record: { stream, ...(namespace ? { namespace } : {}), data, emitted_at: 1_700_000_000_000 },
  });
}

/** A STREAM state line for `stream` with `cursor`. */
export function streamState(stream: string, cursor: number, extra = {}): string {
  return JSON.stringify({
    type: "STATE",
    state: {
      type: "STREAM",
      stream: { stream_descriptor: { name: stream }, stream_state: { cursor } },
      ...extra,
    },
  });
}

/** A configured catalog with one stream per entry. */
export function catalog(
  streams: Array<{ name: string; mode: string; primaryKey?: string[][]; generation?: number[] }>,
): unknown {
  return {
    streams: streams.map((s) => ({
      stream: {
        name: s.name,
        json_schema: { type: "object", properties: {} },
        supported_sync_modes: ["full_refresh", "incremental"],
      },
      sync_mode: s.mode === "overwrite" ? "full_refresh" : "incremental",
      destination_sync_mode: s.mode,
      ...(s.primaryKey ? { primary_key: s.primaryKey } : {}),
      ...(s.generation
        ? { generation_id: s.generation[0], minimum_generation_id: s.generation[1], sync_id: 1 }
        : {}),
    })),
  };
}

/** Writes config.json and catalog.json into `dir`; returns the write arguments. */
export async function writeArgs(
  dir: string,
  sb: Sandbox,
  config: Record<string, unknown>,
  cat: unknown,
): Promise<string[]> {
  await Deno.writeTextFile(
    `${dir}/config.json`,
    JSON.stringify({ api_key: sb.apiKey, campaign_id: 1, base_url: sb.url, ...config }),
  );
  await Deno.writeTextFile(`${dir}/catalog.json`, JSON.stringify(cat));
  return ["airbyte", "write", "--config", `${dir}/config.json`, "--catalog", `${dir}/catalog.json`];
}

/** Emails in the sandbox campaign. */
export function emailsIn(sb: Sandbox, campaign = 1): Set<string> {
  return new Set(sb.state.campaignLeads(campaign).map((l) => l.email));
}

/** A person's record data. */
export function person(i: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { email: `person${i}@example.com`, first_name: `Person ${i}`, ...extra };
}
