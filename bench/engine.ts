/**
 * The engine's plan half in one process, over one file: rows (parsed here or by the worker)
 * → compiled mapper → planner against an empty index (`dry`: a dry run's work) or against a
 * synced index loaded in bulk (`noop`: the rerun of a synced file, which must emit nothing).
 * Prints one JSON line: rows, ms (wall, from start to the plan's end, index load included),
 * load_ms, counts, batches emitted, peak RSS (VmHWM).
 *
 * Usage: deno run -A bench/engine.ts FILE [--worker] [--mode dry|noop] [--index PATH]
 *          [--max-mb N]
 */
import { DatabaseSync } from "node:sqlite";
import { FingerprintTable } from "../lib/engine/fingerprint_table.ts";
import { planRows } from "../lib/engine/flow.ts";
import { loadIndex } from "../lib/engine/index_load.ts";
import { Mappers } from "../lib/engine/mappers.ts";
import { Planner } from "../lib/engine/planner.ts";
import { threadRows, workerRows } from "../lib/engine/worker_rows.ts";
import { resolveInputs } from "../lib/input/source.ts";
import { peakRssBytes } from "./proc.ts";

const args = Deno.args;
const file = args[0];
if (file === undefined) {
  throw new Error("usage: engine.ts FILE [--worker] [--mode dry|noop] [--index PATH]");
}
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const worker = args.includes("--worker");
const mode = flag("--mode") ?? "dry";
const maxMb = Number(flag("--max-mb") ?? "0");

const t0 = performance.now();
const table = new FingerprintTable(maxMb > 0 ? { maxBytes: maxMb * 1024 * 1024 } : {});
let loadMs = 0;
let loaded = 0;
if (mode === "noop") {
  const path = flag("--index");
  if (path === undefined) throw new Error("--mode noop needs --index");
  const db = new DatabaseSync(path, { readOnly: true });
  const n = (db.prepare("select count(*) as n from leads").get() as { n: number }).n;
  const sized = new FingerprintTable({
    expected: n * 1.05,
    ...(maxMb > 0 ? { maxBytes: maxMb * 1024 * 1024 } : {}),
  });
  const t = performance.now();
  loaded = loadIndex(db, sized).leads;
  loadMs = performance.now() - t;
  db.close();
  Object.assign(globalThis, { sized });
}
const planner = new Planner({
  table: mode === "noop" ? (globalThis as unknown as { sized: FingerprintTable }).sized : table,
  fullRefresh: false,
  retryRejected: false,
  emit: mode === "noop",
  addBatchSize: 100,
  updateBatchSize: 100,
  maxAgeMs: 1000,
  now: () => performance.now(),
  holdUpdates: 20_000,
});
let rejected = 0;
let batches = 0;
const sources = await resolveInputs([file]);
const stats = await planRows(worker ? workerRows(sources) : threadRows(sources), {
  mappers: new Mappers([], []),
  planner,
  reject: () => rejected++,
  between: () => {
    planner.flushDue();
    for (let b = planner.take(); b !== undefined; b = planner.take()) {
      batches++;
      planner.settled(b.id);
    }
  },
});
planner.finish();
for (let b = planner.take(); b !== undefined; b = planner.take()) {
  batches++;
  planner.settled(b.id);
}
const ms = performance.now() - t0;
const out = {
  rows: stats.rows,
  valid: stats.valid,
  rejected,
  overflow_at: stats.overflowAt ?? null,
  ms,
  load_ms: loadMs,
  loaded,
  counts: planner.counts,
  batches,
  table_mb:
    (mode === "noop" ? (globalThis as unknown as { sized: FingerprintTable }).sized : table).bytes /
    1048576,
  peak_rss: peakRssBytes() ?? null,
};
await Deno.stdout.write(new TextEncoder().encode(JSON.stringify(out) + "\n"));
