/**
 * A lead mapper built once per header: column positions, targets, the canonical key order
 * and the JSON fragments are resolved when the header is seen, so a row costs one pass over
 * its mapped values, string concatenation and one hash, with no per-row object.
 *
 * It produces exactly what the current path produces: the bytes of
 * `JSON.stringify(buildLead(...).lead)` (lib/lead.ts: the ten fields in order, custom
 * fields sorted) and the lanes of `payloadHash` over them, so that leads synced by earlier
 * versions come back "unchanged". Rows the fast path cannot vouch for (a value that is not a
 * string, an email the hot-path check does not pass, a custom-fields column, an over-long
 * value, no email) go to `buildLead` itself, which decides and words the reason: the same
 * rows are rejected for the same reasons, by construction.
 *
 * Up to `GENERATE_MAX_COLUMNS` mapped columns the row function is generated code (straight
 * line, one variable per field); above it a loop over the resolved columns runs instead
 * (generated code for a 5,000-column header costs far more to compile than it saves).
 */
import { z } from "zod";
import type { Row } from "../input/row.ts";
import { buildLead, DEFAULT_MAX_CUSTOM_FIELDS, mergeTags } from "../lead.ts";
import type { ColumnPlan } from "../mapping.ts";
import { LEAD_FIELDS } from "../mapping.ts";
import { PayloadHasher, payloadHashLanes } from "./fingerprint.ts";

/** Mapped columns above which the interpreted form is used. */
export const GENERATE_MAX_COLUMNS = 256;

/**
 * Where a mapper writes one row's outcome, reused across rows (no object per row). The
 * payload text is not built while mapping (the hash is computed over the JSON pieces
 * directly): `payload()` builds it on demand, for the few rows that are sent, and only until
 * the next row is mapped into this object.
 */
export class MapOut {
  /** Valid lead: its normalised email and the lanes of its payload hash. */
  email = "";
  readonly hash: Uint32Array = new Uint32Array(2);
  /** Rejected row: why, and its email when the email itself is valid. */
  reason = "";
  rejectEmail: string | undefined = undefined;
  /** Set: the payload is this text; unset: `build(vals)` makes it. */
  text: string | undefined = undefined;
  vals: ReadonlyArray<string | undefined> = [];
  build: ((vals: ReadonlyArray<string | undefined>) => string) | undefined = undefined;

  /** The lead's payload: exactly `JSON.stringify` of the lead `buildLead` makes. */
  payload(): string {
    return this.text ??= this.build!(this.vals);
  }
}

export interface LeadMapper {
  /** "generated" or "interpreted", for tests and benchmarks. */
  readonly form: "generated" | "interpreted";
  /** Rows handed to `buildLead` so far (the fast path could not vouch for them). */
  readonly slowRows: number;
  /**
   * Maps `values[offset .. offset + count)` (a row; `count` may be shorter than the header:
   * missing trailing fields are empty). True: a valid lead in `out`; false: a reject in `out`.
   */
  map(values: readonly unknown[], offset: number, count: number, out: MapOut): boolean;
}

export interface MapperOptions {
  /** Force a form (tests); default: generated up to `GENERATE_MAX_COLUMNS` mapped columns. */
  form?: "generated" | "interpreted";
  /** Custom fields per lead (`--max-custom-fields`; default `DEFAULT_MAX_CUSTOM_FIELDS`). */
  maxCustomFields?: number;
}

const EMAIL_RE: RegExp = z.regexes.email;
const FIELD_INDEX = new Map<string, number>(LEAD_FIELDS.map((f, i) => [f, i]));
/** `,"first_name":` etc. (index 0, email, opens the object). */
const FIELD_PREFIX = LEAD_FIELDS.map((f, i) => (i === 0 ? "{" : ",") + JSON.stringify(f) + ":");
const MAX_TEXT = 10_000;

/** One mapped column: field index (0-8), custom key index, or the row's tags. */
interface Col {
  column: number;
  kind: "field" | "custom" | "tags" | "object";
  slot: number;
}

/** Everything decided from the header alone. */
interface Resolved {
  cols: Col[];
  /** Distinct custom keys, in the order JSON.stringify writes them (see `customOrder`). */
  keys: string[];
  /** `,"custom_fields":{"key":` per key: the first present key opens the object. */
  keyOpen: string[];
  /** `,"key":` per key: every later present key. */
  keyNext: string[];
  /** Keys Smartlead's schema refuses (length not 1-200): their presence sends the row to zod. */
  badKey: boolean[];
  /** Index of the "tags" custom key, or -1 when no tags can appear. */
  tagsKey: number;
  hasTagsColumn: boolean;
  /** `--tags` merged alone (for rows without a tags value). */
  runTags: string;
}

/**
 * The order `JSON.stringify(sortedCustom(custom))` writes custom keys: `sortedCustom` inserts
 * them sorted, and objects list integer-like keys first, ascending. Asked of the engine
 * itself (an object built the same way), so this cannot drift from it; a subset of the keys
 * comes out in the same relative order.
 */
function customOrder(keys: readonly string[]): string[] {
  const sorted = [...keys].sort();
  const probe: Record<string, number> = {};
  for (const k of sorted) {
    Object.defineProperty(probe, k, { value: 1, enumerable: true, writable: true });
  }
  return Object.keys(probe);
}

function resolve(plan: ColumnPlan, tags: readonly string[]): Resolved {
  const keyNames: string[] = [];
  const rawCols: Array<{ column: number; kind: Col["kind"]; key?: string; field?: number }> = [];
  let hasTagsColumn = false;
  plan.targets.forEach((t, column) => {
    if (t.kind === "ignore") return;
    if (t.kind === "field") {
      rawCols.push({ column, kind: "field", field: FIELD_INDEX.get(t.field)! });
    } else if (t.kind === "custom") {
      rawCols.push({ column, kind: "custom", key: t.key });
      if (!keyNames.includes(t.key)) keyNames.push(t.key);
    } else if (t.kind === "tags") {
      rawCols.push({ column, kind: "tags" });
      hasTagsColumn = true;
    } else rawCols.push({ column, kind: "object" });
  });
  const runTags = mergeTags(undefined, tags).join(",");
  const tagsPossible = hasTagsColumn || tags.length > 0;
  if (tagsPossible && !keyNames.includes("tags")) keyNames.push("tags");
  const keys = customOrder(keyNames);
  const keyIndex = new Map(keys.map((k, i) => [k, i]));
  const cols: Col[] = rawCols.map((c) => ({
    column: c.column,
    kind: c.kind,
    slot: c.kind === "field" ? c.field! : c.kind === "custom" ? keyIndex.get(c.key!)! : -1,
  }));
  return {
    cols,
    keys,
    keyOpen: keys.map((k) => ',"custom_fields":{' + JSON.stringify(k) + ":"),
    keyNext: keys.map((k) => "," + JSON.stringify(k) + ":"),
    badKey: keys.map((k) => k.length < 1 || k.length > 200),
    tagsKey: tagsPossible ? keyIndex.get("tags")! : -1,
    hasTagsColumn,
    runTags,
  };
}

/** The current path, for rows the fast path passes on: buildLead, JSON.stringify, hash. */
function slowPath(
  plan: ColumnPlan,
  tags: readonly string[],
  maxCustomFields: number,
  values: readonly unknown[],
  offset: number,
  count: number,
  out: MapOut,
): boolean {
  const row: Row = {
    source: "",
    line: 0,
    columns: plan.columns,
    values: offset === 0 && count === values.length ? values : values.slice(offset, offset + count),
  };
  const r = buildLead(row, plan, tags, maxCustomFields);
  if (!r.ok) {
    out.reason = r.reason;
    out.rejectEmail = r.email;
    return false;
  }
  out.email = r.lead.email;
  out.text = JSON.stringify(r.lead);
  payloadHashLanes(out.text, out.hash);
  return true;
}

/** Builds the mapper for one header (its column plan) and the run's `--tags`. */
export function compileMapper(
  plan: ColumnPlan,
  tags: readonly string[],
  opts: MapperOptions = {},
): LeadMapper {
  const r = resolve(plan, tags);
  const form = opts.form ?? (r.cols.length <= GENERATE_MAX_COLUMNS ? "generated" : "interpreted");
  const mapper = { form, slowRows: 0, map: undefined as unknown as MapFn };
  const maxCustom = opts.maxCustomFields ?? DEFAULT_MAX_CUSTOM_FIELDS;
  const slow = (values: readonly unknown[], offset: number, count: number, out: MapOut) => {
    mapper.slowRows++;
    return slowPath(plan, tags, maxCustom, values, offset, count, out);
  };
  // Columns that could exceed the custom-field cap: every row goes to buildLead, which
  // counts them (a `custom_fields` object column already does when it holds anything).
  const customColumns = plan.targets.filter((t) => t.kind === "custom").length + 1;
  mapper.map = customColumns > maxCustom
    ? slow
    : form === "generated"
    ? generate(r, tags, slow)
    : interpret(r, tags, slow);
  return mapper;
}

type MapFn = LeadMapper["map"];

/** Builds the payload text from a row's kept values: email, eight fields, custom values. */
function builder(r: Resolved): (vals: ReadonlyArray<string | undefined>) => string {
  const nf = LEAD_FIELDS.length;
  return (vals) => {
    let json = FIELD_PREFIX[0]! + JSON.stringify(vals[0]);
    for (let f = 1; f < nf; f++) {
      const s = vals[f];
      if (s !== undefined) json += FIELD_PREFIX[f]! + JSON.stringify(s);
    }
    let open = false;
    for (let k = 0; k < r.keys.length; k++) {
      const s = vals[nf + k];
      if (s === undefined) continue;
      json += (open ? r.keyNext[k]! : r.keyOpen[k]!) + JSON.stringify(s);
      open = true;
    }
    return json + (open ? "}}" : "}");
  };
}

/** The loop form: the same steps as the generated code, over the resolved columns. */
function interpret(r: Resolved, tags: readonly string[], slow: MapFn): MapFn {
  const nf = LEAD_FIELDS.length;
  const vals: Array<string | undefined> = new Array(nf + r.keys.length).fill(undefined);
  const build = builder(r);
  const h = new PayloadHasher();
  const cols = r.cols;
  return (values, offset, count, out) => {
    for (let i = 0; i < vals.length; i++) vals[i] = undefined;
    let rowTags: string | undefined;
    for (let k = 0; k < cols.length; k++) {
      const c = cols[k]!;
      const v = c.column < count ? values[offset + c.column] : undefined;
      if (c.kind === "object") {
        if (v === undefined || v === null || v === "") continue;
        return slow(values, offset, count, out);
      }
      if (typeof v !== "string") {
        if (v === undefined || v === null) continue;
        return slow(values, offset, count, out);
      }
      const s = v.trim();
      if (s === "") continue;
      if (c.kind === "field") vals[c.slot] = s;
      else if (c.kind === "custom") vals[nf + c.slot] = s;
      else rowTags = s;
    }
    if (r.tagsKey >= 0) {
      const merged = rowTags === undefined ? r.runTags : mergeTags(rowTags, tags).join(",");
      if (merged !== "") vals[nf + r.tagsKey] = merged;
    }
    const raw = vals[0];
    if (raw === undefined) return slow(values, offset, count, out);
    const email = raw.toLowerCase();
    if (email.length > 320 || !EMAIL_RE.test(email)) return slow(values, offset, count, out);
    vals[0] = email;
    h.reset();
    h.raw(FIELD_PREFIX[0]!);
    h.str(email);
    for (let f = 1; f < nf; f++) {
      const s = vals[f];
      if (s === undefined) continue;
      if (s.length > MAX_TEXT) return slow(values, offset, count, out);
      h.raw(FIELD_PREFIX[f]!);
      h.str(s);
    }
    let open = false;
    for (let k = 0; k < r.keys.length; k++) {
      const s = vals[nf + k];
      if (s === undefined) continue;
      if (s.length > MAX_TEXT || r.badKey[k]) return slow(values, offset, count, out);
      h.raw(open ? r.keyNext[k]! : r.keyOpen[k]!);
      h.str(s);
      open = true;
    }
    h.raw(open ? "}}" : "}");
    h.finish(out.hash);
    out.email = email;
    out.text = undefined;
    out.vals = vals;
    out.build = build;
    return true;
  };
}

/** The generated form: one straight-line function per header. */
function generate(r: Resolved, tags: readonly string[], slow: MapFn): MapFn {
  const L: string[] = [];
  const nf = LEAD_FIELDS.length;
  const q = (s: string) => JSON.stringify(s);
  for (let f = 0; f < nf; f++) L.push(`let f${f};`);
  for (let k = 0; k < r.keys.length; k++) L.push(`let c${k};`);
  L.push("let rt, v, s;");
  for (const c of r.cols) {
    L.push(`v = ${c.column} < n ? a[o + ${c.column}] : undefined;`);
    if (c.kind === "object") {
      L.push(`if (v !== undefined && v !== null && v !== "") return slow(a, o, n, out);`);
      continue;
    }
    const target = c.kind === "field" ? `f${c.slot}` : c.kind === "custom" ? `c${c.slot}` : "rt";
    L.push(
      `if (typeof v === "string") { s = v.trim(); if (s !== "") ${target} = s; }`,
      `else if (v !== undefined && v !== null) return slow(a, o, n, out);`,
    );
  }
  if (r.tagsKey >= 0) {
    L.push(
      `s = rt === undefined ? RUN_TAGS : mergeTags(rt, TAGS).join(",");`,
      `if (s !== "") c${r.tagsKey} = s;`,
    );
  }
  L.push(
    `if (f0 === undefined) return slow(a, o, n, out);`,
    `const email = f0.toLowerCase();`,
    `if (email.length > 320 || !EMAIL_RE.test(email)) return slow(a, o, n, out);`,
    `h.reset(); h.raw(${q(FIELD_PREFIX[0]!)}); h.str(email);`,
  );
  for (let f = 1; f < nf; f++) {
    L.push(
      `if (f${f} !== undefined) { if (f${f}.length > ${MAX_TEXT}) return slow(a, o, n, out);` +
        ` h.raw(${q(FIELD_PREFIX[f]!)}); h.str(f${f}); }`,
    );
  }
  if (r.keys.length > 0) {
    L.push(`let open = false;`);
    for (let k = 0; k < r.keys.length; k++) {
      const check = r.badKey[k] ? "true" : `c${k}.length > ${MAX_TEXT}`;
      L.push(
        `if (c${k} !== undefined) { if (${check}) return slow(a, o, n, out);` +
          ` h.raw(open ? ${q(r.keyNext[k]!)} : ${q(r.keyOpen[k]!)}); h.str(c${k}); open = true; }`,
      );
    }
    L.push(`h.raw(open ? "}}" : "}");`);
  } else L.push(`h.raw("}");`);
  L.push(`h.finish(out.hash);`, `V[0] = email;`);
  for (let f = 1; f < nf; f++) L.push(`V[${f}] = f${f};`);
  for (let k = 0; k < r.keys.length; k++) L.push(`V[${nf + k}] = c${k};`);
  L.push(`out.email = email; out.text = undefined; out.vals = V; out.build = B;`, `return true;`);
  const body = `return function map(a, o, n, out) {\n${L.join("\n")}\n};`;
  const factory = new Function(
    "slow",
    "EMAIL_RE",
    "mergeTags",
    "h",
    "V",
    "B",
    "RUN_TAGS",
    "TAGS",
    body,
  ) as (...args: unknown[]) => MapFn;
  return factory(
    slow,
    EMAIL_RE,
    mergeTags,
    new PayloadHasher(),
    new Array(nf + r.keys.length).fill(undefined),
    builder(r),
    r.runTags,
    tags,
  );
}
