/**
 * Property: a CSV written with any quoting, delimiter, line ends, BOM, blank lines and
 * unicode parses back to the rows written, at the lines written, wherever the chunk
 * boundaries fall (inside quoted fields, between CR and LF, inside the header).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { dedupeColumns, parseCsv } from "../lib/input/csv.ts";
import { readRows } from "../lib/input/parse.ts";
import type { Row } from "../lib/input/row.ts";
import type { TextChunk } from "../lib/input/source.ts";

type Ending = "\n" | "\r\n" | "\r";

interface Case {
  delimiter: string;
  /** "lf" files may mix LF and CRLF; "cr" files use CR only. */
  family: "lf" | "cr";
  endings: Ending[];
  bom: boolean;
  header: string[];
  rows: string[][];
  /** Per row: quote each cell even when not needed. */
  quoteAll: boolean[][];
  /** Blank lines before the header and before each row. */
  blanks: number[];
  finalNewline: boolean;
  /** An Excel `sep=<delimiter>` first line. */
  sep: boolean;
  /** Preamble lines before the header, skipped with `skipRows`. */
  preamble: string[];
}

const cellChar = fc.constantFrom(
  "a",
  "Z",
  "0",
  " ",
  "é",
  "漢",
  "😀",
  ",",
  ";",
  "\t",
  "|",
  '"',
  "'",
  "\n",
  "\r\n",
);
const cell = fc.oneof(
  { arbitrary: fc.array(cellChar, { maxLength: 8 }).map((a) => a.join("")), weight: 20 },
  // Quoted runs of blank lines: data, not the blank lines the parser skips in bulk.
  fc.constantFrom("x" + "\n".repeat(40) + "y", "\r\n".repeat(35), '""' + "\n".repeat(33)),
);
const headerCell = fc.array(fc.constantFrom("a", "E", "é", "漢", "_", "1", "-"), {
  minLength: 1,
  maxLength: 6,
}).map((a) => a.join(""));

const csvCase: fc.Arbitrary<Case> = fc.record({
  delimiter: fc.constantFrom(",", ";", "\t"),
  family: fc.constantFrom<"lf" | "cr">("lf", "lf", "cr"),
  mixed: fc.boolean(),
  bom: fc.boolean(),
  ncols: fc.integer({ min: 1, max: 5 }),
  nrows: fc.integer({ min: 0, max: 12 }),
  seed: fc.array(fc.integer({ min: 0, max: 1 << 30 }), { minLength: 64, maxLength: 64 }),
  cells: fc.array(cell, { minLength: 80, maxLength: 80 }),
  headers: fc.array(headerCell, { minLength: 5, maxLength: 5 }),
  finalNewline: fc.boolean(),
  sep: fc.boolean(),
  preamble: fc.array(fc.constantFrom('Exported by "CRM", 2026', "", "a;b\tc|d", '"'), {
    maxLength: 3,
  }),
}).map((r) => {
  let k = 0;
  const rand = () => r.seed[k++ % r.seed.length]!;
  const delimiter = r.ncols === 1 ? "," : r.delimiter;
  const header = r.headers.slice(0, r.ncols);
  const rows: string[][] = [];
  for (let i = 0; i < r.nrows; i++) {
    const row = Array.from({ length: r.ncols }, (_, j) => r.cells[(i * r.ncols + j) % 80]!);
    // A one-column row that is blank would read as a blank line.
    if (r.ncols === 1 && row[0]!.trim() === "") row[0] = "x" + row[0];
    rows.push(row);
  }
  const endings: Ending[] = Array.from(
    { length: r.nrows + 20 },
    () => r.family === "cr" ? "\r" : r.mixed ? (rand() % 2 ? "\r\n" : "\n") : "\r\n",
  );
  if (r.family === "lf" && !r.mixed && rand() % 2) endings.fill("\n");
  return {
    delimiter,
    family: r.family,
    endings,
    bom: r.bom,
    header,
    rows,
    quoteAll: rows.map((row) => row.map(() => rand() % 3 === 0)),
    // Runs of 32+ blank lines take the parser's bulk-skip path.
    blanks: Array.from(
      { length: r.nrows + 1 },
      () => (rand() % 5 === 0 ? rand() % 3 + 1 : rand() % 7 === 0 ? 32 + rand() % 20 : 0),
    ),
    finalNewline: r.finalNewline,
    sep: r.sep,
    preamble: r.preamble,
  };
});

function quote(v: string, delimiter: string, force: boolean): string {
  const needs = v.includes(delimiter) || v.includes("\n") || v.includes("\r") ||
    v.startsWith('"');
  return needs || force ? `"${v.replaceAll('"', '""')}"` : v;
}

/** The CSV text (without BOM) and, per row, the line it starts at. */
function write(c: Case): { text: string; lines: number[] } {
  const nl = c.family === "cr" ? "\r" : "\n";
  let text = "";
  let e = 0;
  const end = () => c.endings[e++ % c.endings.length]!;
  const blank = (n: number) => {
    for (let i = 0; i < n; i++) text += (i % 2 ? "  " : "") + end();
  };
  if (c.sep) text += `sep=${c.delimiter}` + end();
  for (const p of c.preamble) text += p + end();
  blank(c.blanks[0]!);
  text += c.header.join(c.delimiter);
  const lines: number[] = [];
  c.rows.forEach((row, i) => {
    text += end();
    blank(c.blanks[i + 1] ?? 0);
    lines.push(text.split(nl).length);
    text += row.map((v, j) => quote(v, c.delimiter, c.quoteAll[i]![j]!)).join(c.delimiter);
  });
  if (c.finalNewline) text += end();
  return { text, lines };
}

function chunked(text: string, sizes: number[]): TextChunk[] {
  const out: TextChunk[] = [];
  let i = 0;
  let k = 0;
  while (i < text.length) {
    const n = sizes[k++ % sizes.length]!;
    out.push({ source: "p.csv", text: text.slice(i, i + n), bytesRead: i, last: false });
    i += n;
  }
  out.push({ source: "p.csv", text: "", bytesRead: i, last: true });
  return out;
}

function brief(rows: Row[]) {
  return rows.map((r) => ({ line: r.line, values: r.values, problem: r.problem }));
}

Deno.test("property: CSV written → the same rows parsed, any chunking", async () => {
  await fc.assert(
    fc.asyncProperty(
      csvCase,
      fc.array(fc.integer({ min: 1, max: 24 }), { minLength: 1, maxLength: 10 }),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 10 }),
      async (c, sizes, byteSizes) => {
        const { text, lines } = write(c);
        const expected = c.rows.map((values, i) => ({
          line: lines[i]!,
          values,
          problem: undefined,
        }));

        // A header naming a column twice gets "name (2)" for the later one.
        const columns = dedupeColumns(c.header).columns;
        const skipRows = c.preamble.length;

        // Text chunks straight into the parser (the BOM is removed upstream).
        const rows = (await Array.fromAsync(
          parseCsv(ReadableStream.from(chunked(text, sizes)), { skipRows }),
        )).flat().filter((r) => !r.header);
        assert.deepEqual(brief(rows), expected);
        if (rows.length > 0) assert.deepEqual(rows[0]!.columns, columns);

        // Bytes on stdin, split anywhere (inside UTF-8 sequences too), with the BOM.
        const bytes = new TextEncoder().encode((c.bom ? "\uFEFF" : "") + text);
        const pieces: Uint8Array[] = [];
        for (let i = 0, k = 0; i < bytes.length; k++) {
          const n = byteSizes[k % byteSizes.length]!;
          pieces.push(bytes.slice(i, i + n));
          i += n;
        }
        const viaStdin = (await Array.fromAsync(
          readRows([{ name: "<stdin>", path: undefined, size: undefined }], {
            format: "csv",
            stdin: ReadableStream.from(pieces),
            csv: { skipRows },
          }),
        )).flat().filter((r) => !r.header);
        assert.deepEqual(brief(viaStdin), expected);
        if (viaStdin.length > 0) assert.deepEqual(viaStdin[0]!.columns, columns);
      },
    ),
    { numRuns: 200 },
  );
});
