/**
 * Benchmarks for `push`, as ratios against a parse-only baseline measured in the same run
 * (interleaved rounds, medians of the per-round ratios, because other processes share the
 * cores): dry-run throughput and memory, an incremental rerun of an already-synced file
 * (no write), an initial sync and a rerun with 10% of the leads changed against the
 * sandbox (leads/s, requests), peak RSS at a larger input, index lookups at 10M indexed
 * leads, and how much of Smartlead's rate limit a real push uses. Every `deno` run gets the
 * V8 flags the executable is compiled with (scripts/permissions.ts `V8_FLAGS`). With
 * `--compare CLI` another entry point (e.g. the previous version's cli.ts) is measured in
 * the same rounds: before/after figures from one run. Prints a table and writes
 * bench/results.json. Not a test: nothing here fails the build.
 *
 * Usage: deno task bench [--rows N] [--quick] [--repeat N] [--big N] [--index-leads N]
 *          [--compare PATH/cli.ts] [--skip-sync] [--skip-big] [--skip-lookups] [--profile]
 */
import { startSandbox } from "../lib/sandbox/server.ts";
import { V8_FLAGS } from "../scripts/permissions.ts";
import { ensureSyntheticIndex } from "./engine_index.ts";
import { ensureLeadCsv } from "./gen.ts";
import { type Measured, measureDeno } from "./proc.ts";
import { rateBench } from "./rate.ts";
import type { StageTimes } from "./profile.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const DATA = `${ROOT}bench/data`;
const CLI = `${ROOT}cli.ts`;
const MB = 1024 * 1024;
const V8 = `--v8-flags=${V8_FLAGS}`;

interface Args {
  rows: number;
  repeat: number;
  big: number;
  indexLeads: number;
  compare: string | undefined;
  profile: boolean;
  skipSync: boolean;
  skipBig: boolean;
  skipLookups: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {
    rows: 1_000_000,
    repeat: 3,
    big: 5_000_000,
    indexLeads: 10_000_000,
    compare: undefined,
    profile: false,
    skipSync: false,
    skipBig: false,
    skipLookups: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 1) throw new Error(`${a} needs a positive integer`);
      return v;
    };
    if (a === "--rows") args.rows = value();
    else if (a === "--repeat") args.repeat = value();
    else if (a === "--big") args.big = value();
    else if (a === "--index-leads") args.indexLeads = value();
    else if (a === "--compare") args.compare = argv[++i];
    else if (a === "--quick") {
      args.rows = 100_000;
      args.repeat = 1;
      args.big = 500_000;
      args.indexLeads = 1_000_000;
    } else if (a === "--profile") args.profile = true;
    else if (a === "--skip-sync") args.skipSync = true;
    else if (a === "--skip-big") args.skipBig = true;
    else if (a === "--skip-lookups") args.skipLookups = true;
    else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

const log = (line: string) => Deno.stderr.writeSync(new TextEncoder().encode(line + "\n"));

/** A clean environment for the CLI: no key or base URL leaks in from the caller's. */
function cliEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    HOME: Deno.env.get("HOME") ?? "/tmp",
    PATH: Deno.env.get("PATH") ?? "",
    DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME") ?? "/tmp"}/.cache/deno`,
    ...extra,
  };
}

async function runOk(args: string[], env: Record<string, string> = {}): Promise<Measured> {
  const m = await measureDeno(args, { env: cliEnv(env), cwd: ROOT, clearEnv: true });
  if (m.code !== 0) {
    throw new Error(`deno ${args.join(" ")} exited ${m.code}\n${m.stderr.slice(-2000)}`);
  }
  return m;
}

async function dirSize(dir: string, match: RegExp): Promise<number> {
  let total = 0;
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) total += await dirSize(p, match);
    else if (e.isFile && match.test(e.name)) total += (await Deno.stat(p)).size;
  }
  return total;
}

interface Row {
  metric: string;
  value: string;
  target: string;
  met: boolean | undefined;
}

const fmt = (x: number, d = 2) => x.toFixed(d);
const mb = (bytes: number | undefined) => bytes === undefined ? "n/a" : `${fmt(bytes / MB, 0)} MB`;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const thousands = (x: number) => Math.round(x).toLocaleString("en-US");

interface Variant {
  name: string;
  /** Arguments of `deno`, made fresh per round (a no-op rerun copies its index first). */
  args: () => Promise<string[]>;
  env?: Record<string, string>;
}

interface Series {
  runs: Measured[];
  /** Per round, wall time / the baseline's wall time of that round. */
  ratios: number[];
}

/** Runs the variants round after round (the baseline first in each), `repeat` rounds. */
async function interleaved(variants: Variant[], repeat: number): Promise<Map<string, Series>> {
  const out = new Map<string, Series>(variants.map((v) => [v.name, { runs: [], ratios: [] }]));
  for (let r = 0; r < repeat; r++) {
    let base = 0;
    for (const v of variants) {
      log(`round ${r + 1}/${repeat}: ${v.name}`);
      const m = await runOk(await v.args(), v.env ?? {});
      if (base === 0) base = m.ms;
      const s = out.get(v.name)!;
      s.runs.push(m);
      s.ratios.push(m.ms / base);
    }
  }
  return out;
}

const peak = (s: Series) => Math.max(...s.runs.map((m) => m.peakRss ?? 0));
const wall = (s: Series) => median(s.runs.map((m) => m.ms));

async function main(): Promise<void> {
  const args = parseArgs(Deno.args);
  await Deno.mkdir(DATA, { recursive: true });
  const file = `${DATA}/leads-${args.rows}.csv`;
  log(`data: ${file}`);
  if (await ensureLeadCsv(file, { rows: args.rows })) log("  generated");
  const changed = `${DATA}/leads-${args.rows}-changed.csv`;
  if (await ensureLeadCsv(changed, { rows: args.rows, changeEvery: 10 })) log(`  ${changed}`);
  const fileBytes = (await Deno.stat(file)).size;
  const cpu = (await Deno.readTextFile("/proc/cpuinfo").catch(() => ""))
    .match(/^model name\s*:\s*(.*)$/m)?.[1] ?? "unknown CPU";
  const results: Record<string, unknown> = {
    rows: args.rows,
    file_bytes: fileBytes,
    machine: `${navigator.hardwareConcurrency} cores, ${cpu}, deno ${Deno.version.deno}`,
    v8_flags: V8_FLAGS,
    repeat: args.repeat,
  };
  const table: Row[] = [];
  const tmp = await Deno.makeTempDir({ prefix: "smartlead-sync-bench-" });
  const sb = await startSandbox({ apiKey: "bench-key", campaignIds: [1], rate: null });
  const env = { SMARTLEAD_API_KEY: sb.apiKey, SMARTLEAD_BASE_URL: sb.url };
  const push = (cli: string, input: string, ...more: string[]) => [
    "run",
    V8,
    "-A",
    cli,
    "push",
    input,
    "--campaign-id",
    "1",
    "--json",
    ...more,
  ];

  try {
    // 1. The synced index every no-op rerun starts from (a copy per run): an initial sync
    // of the whole file into the sandbox, with no rate limit.
    const synced = `${tmp}/synced.db`;
    let initial: { ms: number; peakRss: number | undefined; summary: Record<string, number> };
    {
      log("initial sync into the sandbox (--rate 100000/1 --batch-size 400)");
      const m = await runOk(
        push(CLI, file, "--state", synced, "--rate", "100000/1", "--batch-size", "400"),
        env,
      );
      initial = { ms: m.ms, peakRss: m.peakRss, summary: JSON.parse(m.stdout) };
    }
    let copies = 0;
    const noopArgs = (cli: string) => async () => {
      const copy = `${tmp}/noop-${++copies}.db`;
      await Deno.copyFile(synced, copy);
      return push(cli, file, "--state", copy);
    };

    // 2. Baseline, dry run and no-op rerun, interleaved (and the same for --compare).
    const variants: Variant[] = [
      {
        name: "parse-only",
        args: () => Promise.resolve(["run", V8, "-A", "bench/parse_only.ts", file]),
      },
      {
        name: "dry-run",
        args: () => Promise.resolve(push(CLI, file, "--dry-run", "--state", `${tmp}/none.db`)),
        env,
      },
      { name: "no-op rerun", args: noopArgs(CLI), env },
    ];
    if (args.compare) {
      const old = args.compare;
      variants.push(
        {
          name: "before: dry-run",
          args: () => Promise.resolve(push(old, file, "--dry-run", "--state", `${tmp}/none.db`)),
          env,
        },
        { name: "before: no-op rerun", args: noopArgs(old), env },
      );
    }
    const series = await interleaved(variants, args.repeat);
    const base = series.get("parse-only")!;
    const parsedRows = args.rows;
    results.rounds = Object.fromEntries(
      [...series].map(([k, s]) => [k, {
        wall_ms: s.runs.map((m) => Math.round(m.ms)),
        peak_rss: s.runs.map((m) => m.peakRss ?? null),
        ratio: s.ratios,
        median_ratio: median(s.ratios),
      }]),
    );
    table.push({
      metric: "parse-only (readRows): wall, peak RSS",
      value: `${fmt(wall(base) / 1000)} s (${
        fmt(parsedRows / wall(base) * 1000 / 1e6)
      } M rows/s), ${mb(peak(base))}`,
      target: "baseline",
      met: undefined,
    });
    for (
      const [name, ratioTarget, hard] of [["dry-run", 1.0, 1.5], ["no-op rerun", 1.2, 1.5]] as const
    ) {
      const s = series.get(name)!;
      const ratio = median(s.ratios);
      const summary = JSON.parse(s.runs[0]!.stdout) as {
        added: number;
        updated: number;
        unchanged: number;
        requests: number;
      };
      table.push({
        metric: `${name}: time / parse-only`,
        value: `${fmt(ratio)} (${fmt(wall(s) / 1000)} s; rounds ${
          s.ratios.map((r) => fmt(r)).join(", ")
        })`,
        target: `<= ${fmt(ratioTarget, 1)} (never > ${hard})`,
        met: ratio <= ratioTarget,
      });
      table.push({
        metric: `${name}: peak RSS`,
        value: mb(peak(s)),
        target: "<= 150 MB",
        met: peak(s) <= 150 * MB,
      });
      if (name === "no-op rerun") {
        table.push({
          metric: "no-op rerun: writes",
          value: `${summary.added + summary.updated} (${
            thousands(summary.unchanged)
          } unchanged, ${summary.requests} request)`,
          target: "0",
          met: summary.added + summary.updated === 0,
        });
      }
      const before = series.get(`before: ${name}`);
      if (before) {
        table.push({
          metric: `before (${args.compare}): ${name}`,
          value: `${fmt(median(before.ratios))} (${fmt(wall(before) / 1000)} s), ${
            mb(peak(before))
          }`,
          target: "",
          met: undefined,
        });
      }
    }

    // 3. Against the sandbox, no rate limit: the initial sync, then 10% of the leads changed.
    if (!args.skipSync) {
      const s = initial.summary;
      table.push({
        metric: "initial sync (sandbox, 400/batch)",
        value: `${fmt(initial.ms / 1000, 1)} s, ${
          thousands(s.added! / initial.ms * 1000)
        } leads/s, ${thousands(s.requests!)} requests, ${mb(initial.peakRss)}`,
        target: "",
        met: undefined,
      });
      const copy = `${tmp}/changed.db`;
      await Deno.copyFile(synced, copy);
      log("rerun with 10% of the leads changed");
      const before = sb.requests.length;
      const m = await runOk(push(CLI, changed, "--state", copy, "--rate", "100000/1"), env);
      const c = JSON.parse(m.stdout) as Record<string, number>;
      const writes = sb.requests.slice(before).filter((r) => r.method !== "GET").length;
      results.changed_rerun = { wall_ms: m.ms, peak_rss: m.peakRss, summary: c, writes };
      table.push({
        metric: "10%-changed rerun (sandbox)",
        value: `${fmt(m.ms / 1000, 1)} s, ${thousands(c.updated! / m.ms * 1000)} updates/s, ${
          thousands(c.updated!)
        } updated, ${thousands(writes)} write requests, ${mb(m.peakRss)}`,
        target: "",
        met: undefined,
      });
      results.initial_sync = initial;
      results.index_bytes_per_million = (await dirSize(tmp, /^synced\.db(-wal)?$/)) /
        (s.added || 1) * 1e6;
    }

    // 4. Peak RSS at a larger input: flat past the fingerprint table's cap.
    if (!args.skipBig) {
      const big = `${DATA}/leads-${args.big}.csv`;
      if (await ensureLeadCsv(big, { rows: args.big })) log(`  generated ${big}`);
      log(`dry-run of ${args.big} rows`);
      const m = await runOk(push(CLI, big, "--dry-run", "--state", `${tmp}/none.db`), env);
      const p = await runOk(["run", V8, "-A", "bench/parse_only.ts", big]);
      results.big = { rows: args.big, dry_ms: m.ms, dry_rss: m.peakRss, parse_ms: p.ms };
      table.push({
        metric: `dry-run, ${thousands(args.big)} rows: peak RSS`,
        value: `${mb(m.peakRss)} (${fmt(m.ms / 1000, 1)} s; parse-only ${fmt(p.ms / 1000, 1)} s)`,
        target: "<= 150 MB",
        met: m.peakRss === undefined ? undefined : m.peakRss <= 150 * MB,
      });
    }

    // 5. Index lookups at 10M indexed leads.
    if (!args.skipLookups) {
      const idx = `${DATA}/index-synthetic-${args.indexLeads}.db`;
      if (await ensureSyntheticIndex(args.indexLeads, idx)) log(`built ${idx}`);
      log(`lookups at ${args.indexLeads} indexed leads`);
      const m = await runOk([
        "run",
        V8,
        "-A",
        "bench/engine_lookup.ts",
        idx,
        String(args.indexLeads),
      ]);
      const o = JSON.parse(m.stdout) as Record<string, number>;
      results.lookups = { ...o, peak_rss: m.peakRss };
      table.push({
        metric: `${thousands(args.indexLeads)} indexed leads: lookups/s`,
        value: `${fmt(o.table_lookups_per_s! / 1e6)} M/s in the table (bulk load ${
          fmt(o.load_ms! / 1000, 1)
        } s, ${fmt(o.table_mb!, 0)} MB); ${
          thousands(o.sql_window_lookups_per_s!)
        }/s by SQL windows`,
        target: "",
        met: undefined,
      });
    }
  } finally {
    await sb.close();
  }

  try {
    // 6. Rate-limit use (bench/rate.ts; alone: deno task bench:rate).
    {
      const rate = await rateBench({ tmp, data: DATA, log });
      results.rate_limit = rate.results;
      table.push(...rate.table);
    }

    if (args.profile) {
      log("profile: each stage in this pipeline, cumulative, in one process");
      const p = await runOk(["run", "-A", "bench/profile.ts", file]);
      const t = JSON.parse(p.stdout) as StageTimes;
      results.profile = t;
      const per = (ms: number) => `${fmt(ms / 1000)} s (${fmt(ms * 1000 / t.rows)} µs/row)`;
      const steps: Array<[string, number]> = [
        ["read + parse", t.parse],
        ["+ map + validate (lib/lead.ts, zod)", t.validate - t.parse],
        ["+ JSON.stringify + hash (+ holding rows)", t.serialise - t.validate],
        ["+ stringify + hash + stage (vs validate)", t.stage - t.validate],
        ["plan", t.plan],
        ["store.stage() alone, incl. dedup", t.stageAlone],
        ["payloadHash alone", t.hashAlone],
        ["JSON.stringify alone", t.stringifyAlone],
      ];
      for (const [metric, ms] of steps) {
        table.push({ metric: `profile: ${metric}`, value: per(ms), target: "", met: undefined });
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }

  results.table = table;
  await Deno.writeTextFile(`${ROOT}bench/results.json`, JSON.stringify(results, null, 2) + "\n");
  const head = [
    `smartlead-sync bench, ${
      args.rows.toLocaleString("en-US")
    } rows, ${args.repeat} interleaved rounds (medians)`,
    `machine: ${results.machine}; V8 flags: ${V8_FLAGS}`,
    `command: deno task bench ${Deno.args.join(" ")}`.trimEnd(),
  ];
  await Deno.stdout.write(new TextEncoder().encode(formatTable(head, table) + "\n"));
}

function formatTable(head: string[], table: Row[]): string {
  const w0 = Math.max(...table.map((r) => r.metric.length));
  const w1 = Math.max(...table.map((r) => r.value.length));
  const w2 = Math.max(6, ...table.map((r) => r.target.length));
  const lines = [...head];
  lines.push(`${"metric".padEnd(w0)}  ${"value".padEnd(w1)}  ${"target".padEnd(w2)}  met`);
  for (const r of table) {
    const met = r.met === undefined ? "" : r.met ? "yes" : "NO";
    lines.push(`${r.metric.padEnd(w0)}  ${r.value.padEnd(w1)}  ${r.target.padEnd(w2)}  ${met}`);
  }
  return lines.join("\n");
}

if (import.meta.main) await main();
