/**
 * The parse worker hands over exactly the rows `readRows` gives in this thread (values,
 * lines, problems, headers, sources), and the same error at the same point, for every
 * hostile test file; a large file crosses many chunks.
 */
import assert from "node:assert/strict";
import type { Row } from "../lib/input/row.ts";
import { resolveInputs } from "../lib/input/source.ts";
import { batchRows, type RowBatch, threadRows, workerRows } from "../lib/engine/worker_rows.ts";
import { TESTDATA } from "./helpers.ts";

interface Seen {
  rows: Array<Omit<Row, "columns"> & { columns: readonly string[] }>;
  headers: string[][];
  error: string | undefined;
  /** Header arrays by identity: flat rows of one file share one array. */
  headerArrays: number;
}

async function collect(batches: AsyncGenerator<RowBatch>): Promise<Seen> {
  const seen: Seen = { rows: [], headers: [], error: undefined, headerArrays: 0 };
  const arrays = new Set<readonly string[]>();
  try {
    for await (const b of batches) {
      if (b.header) seen.headers.push([...b.header]);
      for (const r of batchRows(b)) {
        if (r.columns.length > 0 && b.rows === undefined) arrays.add(r.columns);
        seen.rows.push({ ...r, columns: [...r.columns], values: [...r.values] });
      }
    }
  } catch (e) {
    seen.error = `${(e as Error).name}: ${(e as Error).message}`;
  }
  seen.headerArrays = arrays.size;
  return seen;
}

const FILES = [
  "messy.csv",
  "hostile/blank_lines_only.csv",
  "hostile/bom_crlf_semicolon.csv",
  "hostile/cr_only.csv",
  "hostile/empty.csv",
  "hostile/header_only.csv",
  "hostile/invalid_utf8.csv",
  "hostile/latin1_names.csv",
  "hostile/malformed_quotes.csv",
  "hostile/mixed.ndjson",
  "hostile/mixed_line_endings.csv",
  "hostile/no_email_column.csv",
  "hostile/nul_bytes.csv",
  "hostile/rows_problems.csv",
  "hostile/unclosed_quote.csv",
  "hostile/utf16.csv",
];

Deno.test("workerRows gives the rows and errors of readRows, file by file", async (t) => {
  for (const f of FILES) {
    await t.step(f, async () => {
      const sources = await resolveInputs([`${TESTDATA}/${f}`]);
      const here = await collect(threadRows(sources));
      const there = await collect(workerRows(sources, { queue: 1 }));
      assert.deepEqual({ ...there, headerArrays: 0 }, { ...here, headerArrays: 0 });
      assert.ok(
        there.rows.length > 0 || there.error !== undefined || f.includes("only") ||
          f.includes("empty"),
      );
    });
  }
});

Deno.test("workerRows: a large CSV across many chunks, two inputs, one header array per file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lines = ["Email,Name,Note"];
    for (let i = 0; i < 30_000; i++) lines.push(`u${i}@x.io,"Name, ${i}","multi\nline ${i}"`);
    await Deno.writeTextFile(`${dir}/a.csv`, lines.join("\r\n") + "\r\n");
    await Deno.writeTextFile(`${dir}/b.csv`, "email\nz@x.io\n");
    const sources = await resolveInputs([`${dir}/a.csv`, `${dir}/b.csv`]);
    const here = await collect(threadRows(sources));
    const there = await collect(workerRows(sources, { queue: 2 }));
    assert.equal(there.rows.length, 30_001);
    assert.equal(there.rows[29_999]!.line, 2 + 2 * 29_999);
    assert.deepEqual(there.rows[29_999]!.values, [
      "u29999@x.io",
      "Name, 29999",
      "multi\nline 29999",
    ]);
    assert.deepEqual(there, { ...here, headerArrays: 2 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("workerRows: a consumer that stops early ends the worker", async () => {
  const sources = await resolveInputs([`${TESTDATA}/messy.csv`]);
  for await (const _ of workerRows(sources)) break;
  // the test runner's resource sanitizer fails this test if the worker were left running
});

Deno.test("workerRows: the input options and warnings of readRows (encoding, delimiter, columns, skipped rows)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Windows-1252, a preamble line, ';' and a repeated column name (a warning).
    const text = "exported by X\nemail;Name;Name\nrené@ex.com;Ré;x\nb@ex.com;B;y\n";
    const bytes = Uint8Array.from([...text].map((c) => c.charCodeAt(0)));
    await Deno.writeFile(`${dir}/a.csv`, bytes);
    await Deno.writeTextFile(`${dir}/b.csv`, "c@ex.com|C\n");
    for (
      const input of [
        { encoding: "windows-1252", delimiter: ";", skipRows: 1 },
        { delimiter: "|", columns: ["email", "first_name"] },
      ]
    ) {
      const file = input.columns ? `${dir}/b.csv` : `${dir}/a.csv`;
      const sources = await resolveInputs([file]);
      const warned: string[][] = [[], []];
      const here = await collect(threadRows(sources, { input, warn: (m) => warned[0]!.push(m) }));
      const there = await collect(
        workerRows(sources, { queue: 1, input, warn: (m) => warned[1]!.push(m) }),
      );
      assert.deepEqual({ ...there, headerArrays: 0 }, { ...here, headerArrays: 0 });
      assert.equal(here.error, undefined);
      assert.deepEqual(warned[1], warned[0]);
      if (input.columns) {
        assert.deepEqual(here.rows.map((r) => r.values), [["c@ex.com", "C"]]);
        assert.deepEqual(warned[0], []);
      } else {
        assert.deepEqual(here.rows.map((r) => r.values), [["rené@ex.com", "Ré", "x"], [
          "b@ex.com",
          "B",
          "y",
        ]]);
        assert.equal(warned[0]!.length, 1);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
