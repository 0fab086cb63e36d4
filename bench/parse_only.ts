/**
 * The baseline: read and parse a file through the CLI's own reading code (`readRows`:
 * the same `readText` and papaparse Parser usage as `push`), count the rows, nothing
 * else. Prints one JSON line: rows, ms, rss and peak RSS (VmHWM) in bytes.
 *
 * Usage: deno run -A bench/parse_only.ts FILE
 */
import { readRows } from "../lib/input/parse.ts";
import { resolveInputs } from "../lib/input/source.ts";
import { peakRssBytes } from "./proc.ts";

const file = Deno.args[0];
if (file === undefined) throw new Error("usage: parse_only.ts FILE");
const t0 = performance.now();
let rows = 0;
for await (const batch of readRows(await resolveInputs([file]))) {
  for (const r of batch) if (!r.header) rows++;
}
const ms = performance.now() - t0;
const out = { rows, ms, rss: Deno.memoryUsage().rss, peak_rss: peakRssBytes() ?? null };
await Deno.stdout.write(new TextEncoder().encode(JSON.stringify(out) + "\n"));
