/** Stage: rows → leads or rejects, through the column mapping and the zod lead schema. */
import type { LeadPayload } from "../client/smartlead.ts";
import { UsageError } from "../errors.ts";
import { csvHeaders, type Row } from "../input/row.ts";
import { buildLead, DEFAULT_MAX_CUSTOM_FIELDS } from "../lead.ts";
import { type ColumnPlan, type MapOverrides, planColumns } from "../mapping.ts";

export type Checked =
  | { ok: true; source: string; line: number; lead: LeadPayload }
  | {
    ok: false;
    source: string;
    line: number;
    reason: string;
    row: Record<string, unknown>;
    /** Set when the row's email is valid (the row failed for another reason). */
    email?: string;
    /** The text of a row that could not be parsed (invalid JSON). */
    raw?: string;
  };

export interface ValidateOptions {
  map: MapOverrides;
  tags: readonly string[];
  /** Custom fields per lead; more is a reject. Default 200 (Smartlead's current docs). */
  maxCustomFields?: number;
  /** Told, once per CSV header, what people should know before sending (the cap). */
  warn?: (message: string) => void;
}

/**
 * The row as an object, for the rejects file. A ragged row's values beyond the header are
 * kept under `_extra` (an array; `__extra` and so on if a column already has that name).
 */
export function rowObject(row: Row): Record<string, unknown> {
  // fromEntries defines own properties, so a "__proto__" column is kept as data.
  const object = Object.fromEntries(row.columns.map((c, i) => [c, row.values[i]]));
  if (row.extra !== undefined) {
    let key = "_extra";
    while (Object.hasOwn(object, key)) key = `_${key}`;
    object[key] = [...row.extra];
  }
  return object;
}

/** Maps and validates rows. A CSV header without an email column is a usage error. */
export async function* validateRows(
  rows: AsyncIterable<Row[]>,
  opts: ValidateOptions,
): AsyncGenerator<Checked[]> {
  const maxCustom = opts.maxCustomFields ?? DEFAULT_MAX_CUSTOM_FIELDS;
  const byHeader = new WeakMap<readonly string[], ColumnPlan>();
  const byKeys = new Map<string, ColumnPlan>();
  const planFor = (row: Row): ColumnPlan => {
    let plan = byHeader.get(row.columns);
    if (plan) return plan;
    if (row.problem === undefined && isCsvHeader(row)) {
      plan = planColumns(row.columns, opts.map, true, row.source);
      if (plan.emailColumn < 0) {
        throw new UsageError(
          `${row.source}: line ${row.line}: no email column (columns: ${
            row.columns.slice(0, 12).map((c) => JSON.stringify(c)).join(", ")
          }${row.columns.length > 12 ? ", ..." : ""})`,
          "name the email column with --map email=<column>",
        );
      }
      byHeader.set(row.columns, plan);
      const custom = plan.targets.filter((t) => t.kind === "custom").length;
      if (custom > maxCustom) {
        opts.warn?.(
          `${row.source}: line ${row.line}: ${custom} columns become custom fields; Smartlead ` +
            `takes at most ${maxCustom} per lead: rows with more than ${maxCustom} non-empty ` +
            "ones will be rejected (--max-custom-fields; drop columns with --map ignore=<column>)",
        );
      }
      return plan;
    }
    const key = row.columns.join("\u0000");
    plan = byKeys.get(key);
    if (!plan) {
      plan = planColumns(row.columns, opts.map, false, row.source);
      if (byKeys.size > 10_000) byKeys.clear();
      byKeys.set(key, plan);
    }
    return plan;
  };
  for await (const batch of rows) {
    const out: Checked[] = [];
    for (let i = 0; i < batch.length; i++) {
      const row = batch[i]!;
      if (row.header) {
        planFor(row); // checks the header now, rows or not
        continue;
      }
      if (row.problem !== undefined) {
        out.push({
          ok: false,
          source: row.source,
          line: row.line,
          reason: row.problem,
          row: rowObject(row),
          ...(row.raw !== undefined ? { raw: row.raw } : {}),
        });
        continue;
      }
      const result = buildLead(row, planFor(row), opts.tags, maxCustom);
      out.push(
        result.ok ? { ok: true, source: row.source, line: row.line, lead: result.lead } : {
          ok: false,
          source: row.source,
          line: row.line,
          reason: result.reason,
          row: rowObject(row),
          ...(result.email !== undefined ? { email: result.email } : {}),
        },
      );
    }
    if (out.length > 0) yield out;
  }
}

function isCsvHeader(row: Row): boolean {
  return csvHeaders.has(row.columns);
}
