/**
 * Engine benchmarks (the new modules under lib/engine, before they drive `push`): the plan
 * half of a dry run and of a no-op rerun of a synced file, parsed in this thread or by the
 * worker, against the parse-only baseline measured in the same run. Runs are interleaved
 * (baseline, then each variant, round after round) and reported as medians, because other
 * processes share the cores. Also: peak RSS at a larger input, and index lookups at 10M
 * indexed leads. Writes bench/engine_results.json. Not a test: nothing here fails the build.
 *
 * Usage: deno task bench:engine [--rows N] [--repeat N] [--big N] [--index-leads N]
 *          [--skip-big] [--skip-lookups]
 */
import { ensureLeadCsv } from "./gen.ts";
import { ensureSyncedIndex, ensureSyntheticIndex } from "./engine_index.ts";
import { type Measured, measureDeno } from "./proc.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const DATA = `${ROOT}bench/data`;
const MB = 1024 * 1024;
const log = (line: string) => Deno.stderr.writeSync(new TextEncoder().encode(line + "\n"));

function parseArgs(argv: readonly string[]) {
  const a = {
    rows: 1_000_000,
    repeat: 5,
    big: 5_000_000,
    indexLeads: 10_000_000,
    skipBig: false,
    skipLookups: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const v = () => Number(argv[++i]);
    if (argv[i] === "--rows") a.rows = v();
    else if (argv[i] === "--repeat") a.repeat = v();
    else if (argv[i] === "--big") a.big = v();
    else if (argv[i] === "--index-leads") a.indexLeads = v();
    else if (argv[i] === "--skip-big") a.skipBig = true;
    else if (argv[i] === "--skip-lookups") a.skipLookups = true;
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  return a;
}

async function run(args: string[]): Promise<Measured & { out: Record<string, unknown> }> {
  const m = await measureDeno(["run", "-A", ...args], { cwd: ROOT });
  if (m.code !== 0) {
    throw new Error(`deno ${args.join(" ")} exited ${m.code}\n${m.stderr.slice(-2000)}`);
  }
  return { ...m, out: JSON.parse(m.stdout) };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (x: number, d = 2) => x.toFixed(d);

async function main() {
  const a = parseArgs(Deno.args);
  await Deno.mkdir(DATA, { recursive: true });
  const file = `${DATA}/leads-${a.rows}.csv`;
  await ensureLeadCsv(file, { rows: a.rows });
  const index = `${DATA}/index-${a.rows}.db`;
  if (await ensureSyncedIndex(file, index)) log(`built ${index} (every lead of the file synced)`);
  const variants: Record<string, string[]> = {
    "parse-only": ["bench/parse_only.ts", file],
    "dry, this thread": ["bench/engine.ts", file],
    "dry, worker": ["bench/engine.ts", file, "--worker"],
    "no-op rerun, this thread": ["bench/engine.ts", file, "--mode", "noop", "--index", index],
    "no-op rerun, worker": [
      "bench/engine.ts",
      file,
      "--mode",
      "noop",
      "--index",
      index,
      "--worker",
    ],
  };
  const runs: Record<string, Array<{ ms: number; rss: number; out: Record<string, unknown> }>> = {};
  for (let r = 0; r < a.repeat; r++) {
    for (const [name, args] of Object.entries(variants)) {
      log(`round ${r + 1}/${a.repeat}: ${name}`);
      const m = await run(args);
      (runs[name] ??= []).push({ ms: m.ms, rss: m.peakRss ?? 0, out: m.out });
    }
  }
  const results: Record<string, unknown> = { rows: a.rows, repeat: a.repeat, runs };
  const lines: string[] = [
    `engine bench, ${a.rows.toLocaleString("en-US")} rows, medians of ${a.repeat} interleaved runs`,
  ];
  // Ratios per round (each variant against the baseline of its own round), then the median.
  const base = runs["parse-only"]!;
  lines.push("variant                     wall      ratio (median of per-round)  peak RSS (max)");
  for (const name of Object.keys(variants)) {
    const rs = runs[name]!;
    const ratio = median(rs.map((x, i) => x.ms / base[i]!.ms));
    const wall = median(rs.map((x) => x.ms));
    const rss = Math.max(...rs.map((x) => x.rss));
    results[name] = { wall_ms: wall, ratio, peak_rss: rss };
    lines.push(
      `${name.padEnd(26)}  ${fmt(wall / 1000).padStart(6)} s  ${fmt(ratio).padStart(6)}×  ${
        fmt(rss / MB, 0).padStart(27)
      } MB`,
    );
  }
  const noop = runs["no-op rerun, this thread"]![0]!.out as {
    counts: Record<string, number>;
    batches: number;
  };
  lines.push(
    `no-op rerun: ${noop.counts.unchanged} unchanged, ${noop.batches} batches emitted (0 = no write)`,
  );

  if (!a.skipBig) {
    const big = `${DATA}/leads-${a.big}.csv`;
    await ensureLeadCsv(big, { rows: a.big });
    for (
      const [name, args] of Object.entries({
        "parse-only": ["bench/parse_only.ts", big],
        "dry, this thread": ["bench/engine.ts", big],
        "dry, worker": ["bench/engine.ts", big, "--worker"],
        "dry, this thread, table capped at 64 MB": ["bench/engine.ts", big, "--max-mb", "64"],
      })
    ) {
      log(`${a.big} rows: ${name}`);
      const m = await run(args);
      results[`big: ${name}`] = { wall_ms: m.ms, peak_rss: m.peakRss, out: m.out };
      const o = m.out as { overflow_at?: number | null; table_mb?: number };
      lines.push(
        `${a.big.toLocaleString("en-US")} rows, ${name}: ${fmt(m.ms / 1000)} s, peak RSS ${
          fmt((m.peakRss ?? 0) / MB, 0)
        } MB` +
          (o.table_mb !== undefined ? `, table ${fmt(o.table_mb, 0)} MB` : "") +
          (o.overflow_at ? `, table full at row ${o.overflow_at.toLocaleString("en-US")}` : ""),
      );
    }
  }

  if (!a.skipLookups) {
    const idx = `${DATA}/index-synthetic-${a.indexLeads}.db`;
    if (await ensureSyntheticIndex(a.indexLeads, idx)) log(`built ${idx}`);
    log(`lookups at ${a.indexLeads} indexed leads`);
    const m = await run(["bench/engine_lookup.ts", idx, String(a.indexLeads)]);
    const o = m.out as Record<string, number>;
    results.lookups = { ...o, wall_ms: m.ms, peak_rss_outer: m.peakRss };
    lines.push(
      `${a.indexLeads.toLocaleString("en-US")} indexed leads: bulk load ${
        fmt(o.load_ms! / 1000)
      } s, table ${fmt(o.table_mb!, 0)} MB, ` +
        `peak RSS ${fmt((m.peakRss ?? 0) / MB, 0)} MB; table lookups ${
          fmt(o.table_lookups_per_s! / 1e6)
        } M/s; ` +
        `windowed SQL lookups (4,096 per statement) ${
          fmt(o.sql_window_lookups_per_s! / 1e3, 0)
        } k/s`,
    );
  }
  results.table = lines;
  await Deno.writeTextFile(
    `${ROOT}bench/engine_results.json`,
    JSON.stringify(results, null, 2) + "\n",
  );
  await Deno.stdout.write(new TextEncoder().encode(lines.join("\n") + "\n"));
}

if (import.meta.main) await main();
