/**
 * What a protocol run tells people: one line of counts, and a warning per record that did
 * not become a lead (named by stream and position, never by its data), read back from the
 * run's private rejects file.
 */
import type { Summary } from "../pipeline/report.ts";
import type { OrdinalStreams } from "./checkpoints.ts";

/** Warnings shown one by one; the rest are counted. */
export const MAX_REJECT_WARNINGS = 100;

/** The run's counts in one line. */
export function summaryLine(s: Summary, records: OrdinalStreams): string {
  const streams = [...records.perStream].map(([k, n]) => `${k}: ${n}`).join(", ");
  return `campaign ${s.campaign_id} (${s.mode}): ${s.rows} records (${streams}); ` +
    `added ${s.added}, updated ${s.updated}, unchanged ${s.unchanged}, ` +
    `skipped ${s.rejected} without a valid lead, ${s.duplicates_in_input} repeated, ` +
    `refused by Smartlead ${s.rejected_by_smartlead}` +
    (s.deleted ? `, removed ${s.deleted} missing` : "") +
    `; ${s.requests} requests` + (s.retries ? ` (${s.retries} retried)` : "");
}

/**
 * One warning per line of the rejects file (up to `max`, then how many more), e.g.
 * `input record 3 (stream users) not loaded: email: not a valid email address ("x")`.
 */
export async function rejectWarnings(
  path: string,
  records: OrdinalStreams,
  max = MAX_REJECT_WARNINGS,
): Promise<string[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return [];
  }
  const out: string[] = [];
  let more = 0;
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    if (out.length >= max) {
      more++;
      continue;
    }
    let r: { line?: number; reason?: string };
    try {
      r = JSON.parse(line);
    } catch {
      continue;
    }
    // One NDJSON line per record, numbered from 1: line n is the record with ordinal n - 1.
    const ordinal = (r.line ?? 0) - 1;
    const stream = records.streamOf(ordinal) ?? "?";
    out.push(`input record ${ordinal + 1} (stream ${stream}) not loaded: ${r.reason ?? "invalid"}`);
  }
  if (more > 0) out.push(`... and ${more} more records not loaded`);
  return out;
}
