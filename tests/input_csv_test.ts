import assert from "node:assert/strict";
import {
  csvHeader,
  type CsvOptions,
  dedupeColumns,
  detectDelimiter,
  parseCsv,
} from "../lib/input/csv.ts";
import { readRows } from "../lib/input/parse.ts";
import type { Row } from "../lib/input/row.ts";
import { type InputSource, resolveInputs, type TextChunk } from "../lib/input/source.ts";
import { UsageError } from "../lib/errors.ts";

/** `text` as chunks of `size` characters (the last one flagged), as readText yields them. */
function toChunks(text: string, size = Infinity, source = "t.csv"): TextChunk[] {
  const out: TextChunk[] = [];
  for (let i = 0; i < text.length; i += size) {
    out.push({ source, text: text.slice(i, i + size), bytesRead: 0, last: false });
  }
  out.push({ source, text: "", bytesRead: 0, last: true });
  return out;
}

async function parse(text: string, size = Infinity, delimiter?: string): Promise<Row[]> {
  const batches = await Array.fromAsync(
    parseCsv(ReadableStream.from(toChunks(text, size)), delimiter ? { delimiter } : {}),
  );
  return batches.flat().filter((r) => !r.header);
}

/** Rows as plain tuples, to compare in one assertion. */
function simple(rows: Row[]): Array<[number, readonly unknown[], string?]> {
  return rows.map((r) => r.problem ? [r.line, r.values, r.problem] : [r.line, r.values]);
}

async function usageError(p: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof UsageError, `expected a UsageError, got ${e}`);
    assert.equal(e.exitCode, 2);
    assert.equal(e.message, message);
    return true;
  });
}

async function tempFile(name: string, data: Uint8Array | string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "input-csv-test-" });
  const path = `${dir}/${name}`;
  await Deno.writeFile(path, typeof data === "string" ? new TextEncoder().encode(data) : data);
  return path;
}

async function gzip(text: string): Promise<Uint8Array> {
  const stream = ReadableStream.from([new TextEncoder().encode(text)])
    .pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function readFileRows(path: string): Promise<Row[]> {
  return (await Array.fromAsync(readRows(await resolveInputs([path])))).flat().filter((r) =>
    !r.header
  );
}

Deno.test("parseCsv: structure", async (t) => {
  await t.step("header and rows share one columns array, trimmed", async () => {
    const rows = await parse(" email , First Name\na@x.com,Ann\nb@x.com,Bob\n");
    assert.deepEqual(rows[0]!.columns, ["email", "First Name"]);
    assert.equal(rows[0]!.columns, rows[1]!.columns);
    assert.deepEqual(simple(rows), [[2, ["a@x.com", "Ann"]], [3, ["b@x.com", "Bob"]]]);
    assert.equal(rows[0]!.source, "t.csv");
  });

  await t.step("no final newline", async () => {
    assert.deepEqual(simple(await parse("email,n\na@x.com,1")), [[2, ["a@x.com", "1"]]]);
  });

  await t.step("CRLF: no CR left on the last field", async () => {
    const rows = await parse("email,name\r\na@x.com,Ann\r\nb@x.com,\r\n");
    assert.deepEqual(rows[0]!.columns, ["email", "name"]);
    assert.deepEqual(simple(rows), [[2, ["a@x.com", "Ann"]], [3, ["b@x.com", ""]]]);
  });

  await t.step("quoted commas, doubled quotes and newlines", async () => {
    const rows = await parse(
      'email,note,city\na@x.com,"one, two","x"\n"b@x.com","say ""hi""","multi\nline\ncell"\nc@x.com,,z\n',
    );
    assert.deepEqual(simple(rows), [
      [2, ["a@x.com", "one, two", "x"]],
      [3, ["b@x.com", 'say "hi"', "multi\nline\ncell"]],
      [6, ["c@x.com", "", "z"]],
    ]);
  });

  await t.step("CRLF inside a quoted field is kept, lines still counted", async () => {
    const rows = await parse('email,note\r\na@x.com,"l1\r\nl2"\r\nb@x.com,x\r\n');
    assert.deepEqual(simple(rows), [[2, ["a@x.com", "l1\r\nl2"]], [4, ["b@x.com", "x"]]]);
  });

  await t.step("blank and whitespace-only lines are skipped but counted", async () => {
    const rows = await parse("\n\nemail,n\n\na@x.com,1\n   \n\t\nb@x.com,2\n\n\n");
    assert.deepEqual(simple(rows), [[5, ["a@x.com", "1"]], [8, ["b@x.com", "2"]]]);
  });

  await t.step("line numbers after a multi-line field and blank lines", async () => {
    const text = 'email,bio\n\n"a@x.com","1\n2\n3"\n\n\nb@x.com,"x\r\ny"\nc@x.com,z';
    assert.deepEqual(simple(await parse(text)), [
      [3, ["a@x.com", "1\n2\n3"]],
      [8, ["b@x.com", "x\r\ny"]],
      [10, ["c@x.com", "z"]],
    ]);
  });

  await t.step("too many fields → row.problem; extra empty fields are dropped", async () => {
    const rows = await parse("email,n\na@x.com,1,extra\nb@x.com,2,,\nc@x.com\n");
    assert.deepEqual(simple(rows), [
      [2, ["a@x.com", "1"], "row has 3 fields but the header has 2"],
      [3, ["b@x.com", "2"]],
      [4, ["c@x.com"]],
    ]);
  });

  await t.step("header only → no rows", async () => {
    assert.deepEqual(await parse("email,name\n"), []);
    assert.deepEqual(await parse("email,name"), []);
  });

  await t.step("empty or blank input → UsageError (exit 2) naming the line", async () => {
    await usageError(parse(""), "t.csv: line 1: no header row (the input is empty)");
    await usageError(parse("\n\n \n"), "t.csv: line 4: no header row (the input is blank)");
  });

  await t.step("unclosed quote → UsageError at the line the field starts", async () => {
    const gen = parseCsv(
      ReadableStream.from(toChunks('email,n\na@x.com,1\n\nb@x.com,"open\nc@x.com,3\n', 7)),
    );
    let first = await gen.next();
    while ((first.value as Row[]).every((r) => r.header)) first = await gen.next(); // the header
    assert.deepEqual(simple(first.value as Row[]), [[2, ["a@x.com", "1"]]]);
    await usageError(
      gen.next(),
      "t.csv: line 4: unclosed quote; the field runs to the end of the file",
    );
  });

  await t.step("malformed closing quote → row.problem, neighbours intact", async () => {
    const rows = await parse('email,n,c\na@x.com,"Jo" Smith,"x"\nb@x.com,"Bo",y\n');
    assert.deepEqual(simple(rows), [
      [
        2,
        ["a@x.com", 'Jo" Smith,"x'],
        'text after a closing quote at line 2 ("Jo" Smith): a quoted field must end at the ' +
        'delimiter or the line end; quote the whole value and double the quotes inside ("""Jo"" Smith")',
      ],
      [3, ["b@x.com", "Bo", "y"]],
    ]);
  });
});

Deno.test("parseCsv: line endings", async (t) => {
  await t.step("CR-only (old Mac) files", async () => {
    const rows = await parse('email,n\ra@x.com,1\r"b@x.com","x\ry"\rc@x.com,3\r');
    assert.deepEqual(simple(rows), [
      [2, ["a@x.com", "1"]],
      [3, ["b@x.com", "x\ry"]],
      [5, ["c@x.com", "3"]],
    ]);
  });

  await t.step("mixed CRLF and LF rows", async () => {
    const rows = await parse("email,n\r\na@x.com,1\nb@x.com,2\r\nc@x.com,3\n");
    assert.deepEqual(simple(rows), [
      [2, ["a@x.com", "1"]],
      [3, ["b@x.com", "2"]],
      [4, ["c@x.com", "3"]],
    ]);
  });

  await t.step("LF header, CRLF rows", async () => {
    const rows = await parse('email,n\na@x.com,1\r\nb@x.com,"2"\r\n');
    assert.deepEqual(simple(rows), [[2, ["a@x.com", "1"]], [3, ["b@x.com", "2"]]]);
  });
});

Deno.test("parseCsv: chunk boundaries", async (t) => {
  const text = 'email,note\r\n"a@x.com","q ""1"", and\r\nmore"\r\n\r\nb@x.com,"end"\r\nc@x.com,x';
  const expected = [
    [2, ["a@x.com", 'q "1", and\r\nmore']],
    [5, ["b@x.com", "end"]],
    [6, ["c@x.com", "x"]],
  ];
  for (let size = 1; size <= text.length; size++) {
    await t.step(`chunks of ${size}`, async () => {
      assert.deepEqual(simple(await parse(text, size)), expected);
    });
  }

  await t.step("blank lines in the first chunks do not decide the delimiter", async () => {
    const rows = await parse("\n\n\nemail;name\na@x.com;Ann\n", 2);
    assert.deepEqual(rows[0]!.columns, ["email", "name"]);
    assert.deepEqual(simple(rows), [[5, ["a@x.com", "Ann"]]]);
  });

  await t.step("CR-only split between records", async () => {
    const rows = await parse("email;n\ra@x.com;1\rb@x.com;2", 8);
    assert.deepEqual(simple(rows), [[2, ["a@x.com", "1"]], [3, ["b@x.com", "2"]]]);
  });
});

Deno.test("parseCsv: delimiters", async (t) => {
  await t.step("detectDelimiter", () => {
    assert.equal(detectDelimiter("email,first,last"), ",");
    assert.equal(detectDelimiter("email;first;last"), ";");
    assert.equal(detectDelimiter("email\tfirst\tlast"), "\t");
    assert.equal(detectDelimiter("email|first"), "|");
    assert.equal(detectDelimiter('"a;b;c",d'), ",");
    assert.equal(detectDelimiter("email"), ",");
  });

  await t.step("semicolon files keep commas in values", async () => {
    const rows = await parse("email;name\na@x.com;Doe, Ann\n");
    assert.deepEqual(simple(rows), [[2, ["a@x.com", "Doe, Ann"]]]);
  });

  await t.step("tab files", async () => {
    const rows = await parse("email\tname\na@x.com\tAnn; B\n");
    assert.deepEqual(simple(rows), [[2, ["a@x.com", "Ann; B"]]]);
  });

  await t.step("a forced delimiter wins over detection", async () => {
    const rows = await parse("email,x\tname\na@x.com,1\tAnn\n", Infinity, "\t");
    assert.deepEqual(rows[0]!.columns, ["email,x", "name"]);
  });

  await t.step("csvHeader", () => {
    assert.deepEqual(csvHeader("\uFEFF\n\nEmail;First Name\r\na;b\r\n"), {
      columns: ["Email", "First Name"],
      delimiter: ";",
      duplicates: [],
      line: 3,
    });
    assert.deepEqual(csvHeader("a,b\rc,d\r"), {
      columns: ["a", "b"],
      delimiter: ",",
      duplicates: [],
      line: 1,
    });
    assert.deepEqual(csvHeader(""), { columns: [], delimiter: ",", duplicates: [], line: 1 });
    // The same options as push: sep=, preamble, duplicates, --columns.
    assert.deepEqual(csvHeader("sep=|\nExported 2026\nemail|n|n\n", { skipRows: 1 }), {
      columns: ["email", "n", "n (2)"],
      delimiter: "|",
      duplicates: [
        'column "n" appears 2 times (columns 2 and 3): the first is mapped as "n", the others ' +
        'are named "n (2)" (pick one with --map <field>=<name>)',
      ],
      line: 3,
    });
    assert.deepEqual(csvHeader("a@x.com;1\n", { columns: ["email", "n"] }), {
      columns: ["email", "n"],
      delimiter: ";",
      duplicates: [],
      line: 1,
    });
  });
});

Deno.test("readRows: files", async (t) => {
  await t.step("BOM is removed from the first header", async () => {
    const path = await tempFile("bom.csv", "\uFEFFemail,name\r\na@x.com,Ann\r\n");
    const rows = await readFileRows(path);
    assert.deepEqual(rows[0]!.columns, ["email", "name"]);
    assert.deepEqual(simple(rows), [[2, ["a@x.com", "Ann"]]]);
    assert.equal(rows[0]!.source, path);
  });

  await t.step(".tsv forces tabs even when the header has more commas", async () => {
    const path = await tempFile("x.tsv", "email\tnote, with, commas\na@x.com\tx,y\n");
    const rows = await readFileRows(path);
    assert.deepEqual(rows[0]!.columns, ["email", "note, with, commas"]);
    assert.deepEqual(simple(rows), [[2, ["a@x.com", "x,y"]]]);
  });

  await t.step(".csv.gz made with CompressionStream", async () => {
    const body = "email,n\n" +
      Array.from({ length: 3000 }, (_, i) => `u${i}@x.com,${i}\n`).join("");
    const path = await tempFile("leads.csv.gz", await gzip(body));
    const rows = await readFileRows(path);
    assert.equal(rows.length, 3000);
    assert.deepEqual(simple([rows[0]!, rows[2999]!]), [
      [2, ["u0@x.com", "0"]],
      [3001, ["u2999@x.com", "2999"]],
    ]);
  });

  await t.step(".tsv.gz", async () => {
    const path = await tempFile("leads.tsv.gz", await gzip("email\tn,m\na@x.com\t1,2\n"));
    assert.deepEqual(simple(await readFileRows(path)), [[2, ["a@x.com", "1,2"]]]);
  });

  await t.step("empty file → UsageError exit 2", async () => {
    const path = await tempFile("empty.csv", "");
    await usageError(readFileRows(path), `${path}: line 1: no header row (the input is empty)`);
  });

  await t.step("rows in a file larger than one read keep exact line numbers", async () => {
    const n = 40_000;
    const body = "email,note\n" +
      Array.from(
        { length: n },
        (_, i) => i % 1000 === 0 ? `"u${i}@x.com","a\nb"\n` : `u${i}@x.com,x\n`,
      )
        .join("");
    const path = await tempFile("big.csv", body);
    const rows = await readFileRows(path);
    assert.equal(rows.length, n);
    // Row i starts at line 2 + i + (multi-line rows before it).
    for (const i of [0, 1, 999, 1000, 1001, 25_000, n - 1]) {
      assert.equal(rows[i]!.line, 2 + i + Math.ceil(i / 1000), `row ${i}`);
    }
  });
});

Deno.test("readRows: stdin", async (t) => {
  const stdinSource: InputSource = { name: "<stdin>", path: undefined, size: undefined };
  const read = async (pieces: string[]) =>
    (await Array.fromAsync(
      readRows([stdinSource], {
        stdin: ReadableStream.from(pieces.map((p) => new TextEncoder().encode(p))),
      }),
    )).flat().filter((r) => !r.header);

  await t.step("CSV, from many small writes", async () => {
    const rows = await read(["em", "ail,n\r", "\na@x.com,", "1\r\n"]);
    assert.deepEqual(simple(rows), [[2, ["a@x.com", "1"]]]);
    assert.equal(rows[0]!.source, "<stdin>");
  });

  await t.step("NDJSON sniffed from a leading {", async () => {
    const rows = await read(['\n  {"email":"a@x.com","n":1}\n', '{"email":"b@x.com"}\n']);
    assert.deepEqual(rows.map((r) => [r.line, r.columns, r.values]), [
      [2, ["email", "n"], ["a@x.com", 1]],
      [3, ["email"], ["b@x.com"]],
    ]);
  });

  await t.step("gzip on stdin, one byte at a time at first", async () => {
    const gz = await gzip("email\na@x.com\n");
    const rows = (await Array.fromAsync(
      readRows([stdinSource], { stdin: ReadableStream.from([gz.slice(0, 1), gz.slice(1)]) }),
    )).flat().filter((r) => !r.header);
    assert.deepEqual(simple(rows), [[2, ["a@x.com"]]]);
  });

  await t.step("--format wins over sniffing", async () => {
    const rows = (await Array.fromAsync(
      readRows([stdinSource], {
        format: "csv",
        stdin: ReadableStream.from([new TextEncoder().encode('{"a":1}\nx\n')]),
      }),
    )).flat().filter((r) => !r.header);
    assert.deepEqual(rows[0]!.columns, ['{"a":1}']);
    assert.deepEqual(simple(rows), [[2, ["x"]]]);
  });
});

Deno.test("the header is announced before the rows, with its line", async () => {
  const batches = await Array.fromAsync(
    parseCsv(ReadableStream.from(toChunks("\n\nemail,n\na@x.com,1\n", Infinity))),
  );
  const rows = batches.flat();
  assert.deepEqual(rows.map((r) => [r.line, r.header ?? false, r.values]), [
    [3, true, []],
    [4, false, ["a@x.com", "1"]],
  ]);
});

Deno.test("parseCsv: what real exports do", async (t) => {
  const run = async (text: string, opts: CsvOptions, size = Infinity) =>
    (await Array.fromAsync(parseCsv(ReadableStream.from(toChunks(text, size)), opts))).flat();

  for (const size of [Infinity, 1, 3]) {
    await t.step(`an Excel sep=; first line sets the delimiter (chunks of ${size})`, async () => {
      // Without it, the comma would win: the header has more commas than semicolons.
      const rows = await run("sep=;\r\nemail;a,b,c\r\nx@y.com;1,2,3\r\n", {}, size);
      assert.deepEqual(rows.map((r) => [r.line, r.columns, r.values]), [
        [2, ["email", "a,b,c"], []],
        [3, ["email", "a,b,c"], ["x@y.com", "1,2,3"]],
      ]);
    });

    await t.step(`--skip-rows skips a preamble, lines counted (chunks of ${size})`, async () => {
      const text = 'Report "Leads", 2026\n\nexported by CRM\nemail,n\na@x.com,1\n';
      const rows = await run(text, { skipRows: 3 }, size);
      assert.deepEqual(rows.map((r) => [r.line, r.columns, r.values]), [
        [4, ["email", "n"], []],
        [5, ["email", "n"], ["a@x.com", "1"]],
      ]);
    });

    await t.step(`--no-header --columns: every line is data (chunks of ${size})`, async () => {
      const rows = await run("a@x.com;Ann\nb@x.com;Bob", { columns: ["email", "name"] }, size);
      assert.deepEqual(rows.map((r) => [r.line, r.header ?? false, r.values]), [
        [1, true, []],
        [1, false, ["a@x.com", "Ann"]],
        [2, false, ["b@x.com", "Bob"]],
      ]);
      assert.deepEqual(rows[1]!.columns, ["email", "name"]);
    });
  }

  await t.step("--no-header on an empty input announces the columns, no rows", async () => {
    const rows = await run("", { columns: ["email"] });
    assert.deepEqual(rows.map((r) => [r.header, r.columns]), [[true, ["email"]]]);
  });

  await t.step("--delimiter wins over sep= and detection", async () => {
    const rows = await run("sep=;\nemail|a;b\nx@y.com|1;2\n", { delimiter: "|" });
    assert.deepEqual(rows.at(-1)!.values, ["x@y.com", "1;2"]);
  });

  await t.step("duplicate header names: the later ones are renamed, with one warning", async () => {
    const warnings: string[] = [];
    const rows = await run("email,Name,x,Name,Name (2),Name\na@x.com,Ann,1,Lee,q,Z\n", {
      warn: (m) => warnings.push(m),
    });
    assert.deepEqual(rows[1]!.columns, ["email", "Name", "x", "Name (3)", "Name (2)", "Name (4)"]);
    assert.deepEqual(rows[1]!.values, ["a@x.com", "Ann", "1", "Lee", "q", "Z"]);
    assert.deepEqual(warnings, [
      't.csv: line 1: column "Name" appears 3 times (columns 2, 4 and 6): the first is mapped ' +
      'as "Name", the others are named "Name (3)", "Name (4)" (pick one with --map <field>=<name>)',
    ]);
    assert.deepEqual(dedupeColumns(["", "", "a"]), { columns: ["", "", "a"], duplicates: [] });
  });

  await t.step(
    '"Ann" Smith with no later quote: named as text after a quote, at its line',
    async () => {
      await usageError(
        run('email,name\na@x.com,Bo\nb@x.com,"Ann" Smith\nc@x.com,Cy\n', {}),
        't.csv: line 3: text after a closing quote ("Ann" Smith); the field is read as still ' +
          "quoted, so the rest of the file would be one value",
      );
      await assert.rejects(run('email,name\nb@x.com,"Ann" Smith\n', {}), (e: unknown) => {
        assert.ok(e instanceof UsageError);
        assert.equal(
          e.hint,
          'quote the whole value and double the quotes inside ("""Ann"" Smith"), or remove the quotes',
        );
        return true;
      });
    },
  );

  await t.step('"Ann" Smith that swallows the next line: the reject says which lines', async () => {
    const rows = (await run('email,name\nb@x.com,"Ann" Smith\nc@x.com,"Cy"\nd@x.com,Di\n', {}))
      .filter((r) => !r.header);
    assert.deepEqual(simple(rows), [
      [
        2,
        ["b@x.com", 'Ann" Smith\nc@x.com,"Cy'],
        'text after a closing quote at line 2 ("Ann" Smith): a quoted field must end at the ' +
        "delimiter or the line end; the row runs on to line 3; quote the whole value and " +
        'double the quotes inside ("""Ann"" Smith")',
      ],
      [4, ["d@x.com", "Di"]],
    ]);
  });

  await t.step("a real unclosed quote is still called one, at the line of the quote", async () => {
    await usageError(
      run('email,name\na@x.com,1\nb@x.com,"Ann\nc@x.com,Cy\n', {}),
      "t.csv: line 3: unclosed quote; the field runs to the end of the file",
    );
  });
});
