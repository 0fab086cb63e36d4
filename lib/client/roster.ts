/**
 * The campaign roster as this tool needs it: every lead's email, id, status in the campaign,
 * and the hash of its data as Smartlead holds it. Read from `GET /campaigns/{id}/leads-export`
 * (the whole campaign as CSV in one request, streamed through the project's CSV reader),
 * falling back to paging `GET /campaigns/{id}/leads` when the export answers anything but a
 * 2xx, cannot be read, or has no email or id column.
 *
 * The hash is the one `lib/pipeline/stage.ts` computes for a row: the lead is rebuilt from
 * Smartlead's fields with `buildLead` (trimmed values, empty ones omitted, custom fields
 * sorted), serialised and hashed. So a lead whose data in Smartlead is what the index says
 * was last accepted has the index's hash; any other value differs.
 */
import { buildLead, normalizeEmail } from "../lead.ts";
import { parseCsv } from "../input/csv.ts";
import type { Row } from "../input/row.ts";
import { readText } from "../input/source.ts";
import { payloadHash } from "../hash.ts";
import { type ColumnPlan, LEAD_FIELDS, normalizeHeader, type Target } from "../mapping.ts";
import { InterruptedError } from "../errors.ts";
import { ExportUnavailable, type SmartleadClient } from "./smartlead.ts";
import type { RosterEntry } from "./schemas.ts";

/** One lead of the campaign. */
export interface RosterLead {
  /** Trimmed and lower-cased, as the index keys it. */
  email: string;
  leadId: number;
  /** The lead's status in the campaign (`STARTED`, `PAUSED`, ...), when given. */
  status: string | null;
  /** The hash of Smartlead's data for the lead, or null when it could not be read. */
  hash: string | null;
}

/** How the roster was read. */
export interface RosterInfo {
  source: "export" | "pages";
  /** Why the export was not used (set when `source` is `pages`). */
  fallback?: string;
  /** Entries skipped for lack of a lead, an email or a numeric id. */
  skipped: number;
  /** Leads whose field values could not be read (so not compared). */
  unreadable: number;
  /** Why field values could not be read, when it holds for the whole roster. */
  fieldsNote?: string;
}

export interface RosterOptions {
  /** Called when a partly read export is abandoned: forget what it yielded. */
  onRestart?: () => void;
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** Told the leads read so far, and the campaign's size when known, as the read goes. */
  progress?: (read: number, total: number | undefined) => void;
}

/** The keys of a lead payload besides custom fields, in `buildLead`'s order. */
const FIELDS: readonly string[] = LEAD_FIELDS;
const BATCH = 1000;

/** The plan `buildLead` uses for a lead rebuilt from Smartlead: the fields, then custom fields. */
const LEAD_PLAN: ColumnPlan = (() => {
  const columns = [...FIELDS, "custom_fields"];
  const targets: Target[] = [
    ...FIELDS.map((f) => ({ kind: "field", field: f }) as Target),
    { kind: "custom_fields_object" },
  ];
  return { columns, targets, reasons: columns.map(() => "map" as const), emailColumn: 0 };
})();

/**
 * The hash of the payload this tool would build for a lead with these values (standard
 * fields by name, `custom_fields` an object), or null when they cannot make a lead. A custom
 * field given as an array (tags, as some tools report them) is joined with commas, as
 * `--tags` writes it.
 */
export function smartleadHash(
  fields: Readonly<Record<string, unknown>>,
  custom: Readonly<Record<string, unknown>>,
): string | null {
  const flat: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(custom)) {
    const joined = Array.isArray(v) && v.every((x) => typeof x !== "object" || x === null)
      ? v.filter((x) => x !== null && String(x).trim() !== "").map((x) => String(x).trim())
        .join(",")
      : v;
    Object.defineProperty(flat, k, { value: joined, enumerable: true, writable: true });
  }
  const values = [...FIELDS.map((f) => fields[f] ?? null), flat];
  const row: Row = { source: "smartlead", line: 0, columns: LEAD_PLAN.columns, values };
  const lead = buildLead(row, LEAD_PLAN, []);
  return lead.ok ? payloadHash(JSON.stringify(lead.lead)) : null;
}

/**
 * Reads the roster, export first, in batches. A failure while the export streams (a cut
 * connection, bytes that are not UTF-8 CSV) abandons it: `onRestart` is called and the pages
 * are read from the start. Errors opening the export other than "not usable" (a refused key,
 * a redirect, no network permission) are thrown as they are.
 */
export async function* readRoster(
  client: SmartleadClient,
  campaignId: number,
  info: RosterInfo,
  opts: RosterOptions = {},
): AsyncGenerator<RosterLead[]> {
  info.source = "export";
  info.skipped = 0;
  info.unreadable = 0;
  let yielded = false;
  try {
    const body = await client.openExport(campaignId);
    let read = 0;
    for await (const batch of fromExport(body, campaignId, info)) {
      yielded = true;
      read += batch.length;
      opts.progress?.(read, undefined);
      yield batch;
    }
    return;
  } catch (e) {
    if (opts.signal?.aborted) {
      throw new InterruptedError(String(opts.signal.reason ?? "SIGINT"));
    }
    if (!(e instanceof ExportUnavailable || e instanceof ExportUnusable)) throw e;
    info.fallback = e instanceof Error ? e.message : String(e);
  }
  if (yielded) opts.onRestart?.();
  opts.log?.(
    `note: the campaign export could not be used (${info.fallback}); reading the campaign 100 leads per request instead`,
  );
  info.source = "pages";
  info.skipped = 0;
  info.unreadable = 0;
  delete info.fieldsNote;
  let skipped = 0;
  let batch: RosterLead[] = [];
  for await (
    const page of client.roster(campaignId, {
      onSkipped: (n) => (skipped += n),
      ...(opts.progress ? { progress: opts.progress } : {}),
    })
  ) {
    info.skipped = skipped;
    for (const entry of page) {
      const lead = fromEntry(entry);
      if (lead.hash === null) info.unreadable++;
      batch.push(lead);
    }
    if (batch.length >= BATCH) {
      yield batch;
      batch = [];
    }
  }
  info.skipped = skipped;
  if (batch.length > 0) yield batch;
}

/** The export answered, but its content is not a roster (thrown before any lead is read). */
class ExportUnusable extends Error {}

function fromEntry(entry: RosterEntry): RosterLead {
  const lead = entry.lead as Record<string, unknown>;
  const custom = lead.custom_fields;
  const hash = custom === undefined || custom === null ||
      (typeof custom === "object" && !Array.isArray(custom))
    ? smartleadHash(lead, (custom ?? {}) as Record<string, unknown>)
    : null;
  return {
    email: normalizeEmail(entry.lead.email),
    leadId: Number(entry.lead.id),
    status: entry.status ?? null,
    hash,
  };
}

/** Where each needed column of the export is (-1: absent). */
interface Layout {
  email: number;
  id: number;
  status: number;
  custom: number;
  fields: Map<string, number>;
}

function layoutOf(columns: readonly string[]): Layout {
  const norm = columns.map((c) => normalizeHeader(c));
  const find = (...names: string[]) => {
    for (const n of names) {
      const i = norm.indexOf(normalizeHeader(n));
      if (i >= 0) return i;
    }
    return -1;
  };
  const fields = new Map<string, number>();
  for (const f of FIELDS) {
    const i = norm.indexOf(normalizeHeader(f));
    if (i >= 0) fields.set(f, i);
  }
  return {
    email: find("email"),
    id: find("lead_id", "id"),
    status: find("status", "lead_status"),
    custom: find("custom_fields"),
    fields,
  };
}

async function* fromExport(
  body: ReadableStream<Uint8Array>,
  campaignId: number,
  info: RosterInfo,
): AsyncGenerator<RosterLead[]> {
  const source = { name: `the export of campaign ${campaignId}`, path: undefined, size: undefined };
  let layout: Layout | undefined;
  let batch: RosterLead[] = [];
  try {
    for await (const rows of parseCsv(readText(source, body))) {
      for (const row of rows) {
        if (row.header) {
          layout = layoutOf(row.columns);
          if (layout.email < 0 || layout.id < 0) {
            throw new ExportUnusable(
              `it has no ${layout.email < 0 ? "email" : "id"} column (columns: ${
                row.columns.slice(0, 12).map((c) => JSON.stringify(c)).join(", ")
              })`,
            );
          }
          if (layout.custom < 0) {
            info.fieldsNote = "the export has no custom_fields column";
          }
          continue;
        }
        if (!layout) continue;
        const lead = fromRow(row, layout);
        if (lead === null) info.skipped++;
        else {
          if (lead.hash === null) info.unreadable++;
          batch.push(lead);
        }
      }
      if (batch.length >= BATCH) {
        yield batch;
        batch = [];
      }
    }
  } catch (e) {
    await body.cancel().catch(() => {});
    if (e instanceof ExportUnusable) throw e;
    throw new ExportUnusable(`reading it failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (batch.length > 0) yield batch;
}

function fromRow(row: Row, layout: Layout): RosterLead | null {
  if (row.problem !== undefined) return null;
  const cell = (i: number) => (i < 0 ? "" : String(row.values[i] ?? "").trim());
  const email = cell(layout.email);
  const id = cell(layout.id);
  if (email === "" || !/^\d+$/.test(id)) return null;
  const status = cell(layout.status);
  let hash: string | null = null;
  if (layout.custom >= 0) {
    const custom = parseCustom(cell(layout.custom));
    if (custom !== null) {
      const fields: Record<string, unknown> = { email };
      for (const [f, i] of layout.fields) fields[f] = cell(i);
      hash = smartleadHash(fields, custom);
    }
  }
  return { email: normalizeEmail(email), leadId: Number(id), status: status || null, hash };
}

/** The `custom_fields` cell as an object (empty: none), or null when it is not one. */
function parseCustom(text: string): Record<string, unknown> | null {
  if (text === "" || text === "null") return {};
  try {
    const v = JSON.parse(text);
    return v !== null && typeof v === "object" && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}
