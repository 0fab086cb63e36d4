/**
 * Index lookups at scale: loads an index of N leads into the fingerprint table in bulk
 * (time, table size, peak RSS), then times lookups in the table (half hits, half misses),
 * and the windowed SQL lookup (`IndexLookup`, 4,096 emails per statement) for comparison.
 * Prints one JSON line.
 *
 * Usage: deno run -A bench/engine_lookup.ts INDEX N
 */
import { DatabaseSync } from "node:sqlite";
import { emailFingerprint } from "../lib/engine/fingerprint.ts";
import { FingerprintTable } from "../lib/engine/fingerprint_table.ts";
import { IndexLookup, loadIndex } from "../lib/engine/index_load.ts";
import { peakRssBytes } from "./proc.ts";

const [path, count] = Deno.args;
if (path === undefined || count === undefined) throw new Error("usage: engine_lookup.ts INDEX N");
const n = Number(count);
const db = new DatabaseSync(path, { readOnly: true });
const table = new FingerprintTable({ expected: n });
let t = performance.now();
const load = loadIndex(db, table);
const loadMs = performance.now() - t;
const rssAfterLoad = Deno.memoryUsage().rss;

const probes = 2_000_000;
const emails: string[] = [];
for (let i = 0; i < 1000; i++) {
  emails.push(`lead${(i * 7919) % n}@example.com`, `nobody${i}@example.com`);
}
const fp = new Uint32Array(2);
let hits = 0;
t = performance.now();
for (let i = 0; i < probes; i++) {
  const e = i % 2 === 0 ? `lead${(i * 7919) % n}@example.com` : `nobody${i}@example.com`;
  emailFingerprint(e, fp);
  if (table.find(fp[0]!, fp[1]!) >= 0) hits++;
}
const tableMs = performance.now() - t;

const lookup = new IndexLookup(db);
const scratch = new FingerprintTable({ expected: 300_000 });
const sqlProbes = 200_000;
t = performance.now();
let found = 0;
for (let i = 0; i < sqlProbes; i += 4096) {
  const window: string[] = [];
  for (let j = i; j < Math.min(sqlProbes, i + 4096); j++) {
    window.push(j % 2 === 0 ? `lead${(j * 7919) % n}@example.com` : `nobody${j}@example.com`);
  }
  found += lookup.lookup(window, scratch);
}
const sqlMs = performance.now() - t;
db.close();
const out = {
  leads: load.leads,
  load_ms: loadMs,
  table_mb: table.bytes / 1048576,
  rss_after_load: rssAfterLoad,
  peak_rss: peakRssBytes() ?? null,
  table_lookups_per_s: probes / tableMs * 1000,
  table_hits: hits,
  sql_window_lookups_per_s: sqlProbes / sqlMs * 1000,
  sql_found: found,
};
await Deno.stdout.write(new TextEncoder().encode(JSON.stringify(out) + "\n"));
