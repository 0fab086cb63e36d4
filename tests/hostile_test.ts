/**
 * Hostile inputs through the real CLI (`push --dry-run --json --rejects`): each either
 * exits 0 with exactly the expected rejects, or exits 2 with one `error:` line that names
 * the file and the line, and never a stack trace. Big inputs are generated into a temp
 * directory; their peak RSS is measured with GNU time when /usr/bin/time exists.
 */
import assert from "node:assert/strict";
import { cliArgs, type CliResult, runCli, summaryOf, tempDir, TESTDATA } from "./helpers.ts";

const HOSTILE = `${TESTDATA}/hostile`;
const GNU_TIME = "/usr/bin/time";
const hasGnuTime = await Deno.stat(GNU_TIME).then((s) => s.isFile, () => false);

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
  /** Peak resident set size of the CLI process, when measured. */
  rssMb?: number;
}

/** runCli's command line under `/usr/bin/time -v`, to read the child's peak RSS. */
async function runMeasured(args: string[], env: Record<string, string>): Promise<Outcome> {
  const root = new URL("..", import.meta.url).pathname;
  const out = await new Deno.Command(GNU_TIME, {
    args: ["-v", Deno.execPath(), ...cliArgs(args)],
    cwd: root,
    clearEnv: true,
    env: {
      NO_COLOR: "1",
      HOME: Deno.env.get("HOME") ?? "/tmp",
      PATH: Deno.env.get("PATH") ?? "",
      DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`,
      ...env,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  const stderr = dec.decode(out.stderr);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  assert.ok(rss, `no RSS in the output of ${GNU_TIME}:\n${stderr}`);
  // GNU time appends its report (after an exit-status line when the child failed).
  const cut = stderr.search(/(Command exited with non-zero status \d+\n)?\tCommand being timed:/);
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: cut >= 0 ? stderr.slice(0, cut) : stderr,
    rssMb: Number(rss[1]) / 1024,
  };
}

interface Expect {
  /** Exit 0: rows read, and the rejects as [line, reason]. */
  rows?: number;
  rejects?: Array<[number, string]>;
  /** Exit 2: the error line after `error: <file>: `. */
  error?: string;
  /** Peak RSS bound, for the big inputs. */
  maxRssMb?: number;
  /** More push flags. */
  args?: string[];
}

async function check(file: string, expect: Expect, measure = false): Promise<Outcome> {
  const dir = await tempDir();
  try {
    const rejectsPath = `${dir}/rejects.ndjson`;
    const args = [
      "push",
      file,
      "--campaign-id",
      "1",
      "--dry-run",
      "--json",
      "--rejects",
      rejectsPath,
      ...expect.args ?? [],
    ];
    const env = { XDG_STATE_HOME: `${dir}/state` };
    const r: Outcome = measure && hasGnuTime
      ? await runMeasured(args, env)
      : await runCli(args, { env }) as CliResult;
    assert.ok(!r.stderr.includes("    at "), `stack trace in stderr:\n${r.stderr}`);
    if (expect.error !== undefined) {
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr, `error: ${file}: ${expect.error}\n`);
    } else {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, "");
      const summary = summaryOf({ code: r.code, stdout: r.stdout, stderr: r.stderr });
      const rejects = expect.rejects ?? [];
      assert.equal(summary.rows, expect.rows);
      assert.equal(summary.rejected, rejects.length);
      assert.equal(summary.valid, expect.rows! - rejects.length);
      const lines = (await Deno.readTextFile(rejectsPath)).split("\n").filter((l) => l !== "");
      assert.deepEqual(
        lines.map((l) => JSON.parse(l)).map((j) => [j.source, j.line, j.reason]),
        rejects.map(([line, reason]) => [file, line, reason]),
      );
    }
    if (r.rssMb !== undefined && expect.maxRssMb !== undefined) {
      assert.ok(
        r.rssMb < expect.maxRssMb,
        `peak RSS ${r.rssMb.toFixed(0)} MB ≥ ${expect.maxRssMb} MB`,
      );
    }
    return r;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const UTF8_HINT = " — Excel's CSV export on Windows is Windows-1252: pass --encoding " +
  'windows-1252 (or save as "CSV UTF-8" in Excel)';
const TOO_BIG = "Too big: expected string to have <=10000 characters";

Deno.test("hostile inputs: the committed corpus", async (t) => {
  const cases: Array<[string, Expect]> = [
    ["empty.csv", { error: "line 1: no header row (the input is empty) — add a header line" }],
    ["blank_lines_only.csv", {
      error: "line 5: no header row (the input is blank) — add a header line",
    }],
    ["header_only.csv", { rows: 0 }],
    ["no_email_column.csv", {
      error: 'line 1: no email column (columns: "name", "company") — ' +
        "name the email column with --map email=<column>",
    }],
    ["unclosed_quote.csv", {
      error: "line 3: unclosed quote; the field runs to the end of the file — " +
        "close the quote or remove the stray quote character",
    }],
    ["malformed_quotes.csv", {
      rows: 2,
      rejects: [[
        2,
        'text after a closing quote at line 2 ("Ann" Lee): a quoted field must end at the ' +
        "delimiter or the line end; quote the whole value and double the quotes inside " +
        '("""Ann"" Lee")',
      ]],
    }],
    ["nul_bytes.csv", {
      error: "line 3: contains a NUL byte; this looks like binary data, not CSV or NDJSON — " +
        "check that the file is a text export",
    }],
    ["invalid_utf8.csv", { error: `line 4: not valid UTF-8 (byte 0xff)${UTF8_HINT}` }],
    ["latin1_names.csv", { error: `line 2: not valid UTF-8 (byte 0xe9)${UTF8_HINT}` }],
    ["utf16.csv", { rows: 1 }], // decoded by its byte-order mark
    ["binary.png", { error: `line 1: not valid UTF-8 (byte 0x89)${UTF8_HINT}` }],
    ["bom_crlf_semicolon.csv", { rows: 2 }],
    ["cr_only.csv", { rows: 2 }],
    ["mixed_line_endings.csv", { rows: 3 }],
    ["rows_problems.csv", {
      rows: 5,
      rejects: [
        [3, 'email: not a valid email address ("not-an-email"): no @'],
        [4, "email is empty"],
        [5, "row has 4 fields but the header has 3"],
      ],
    }],
    ["mixed.ndjson", {
      rows: 11,
      rejects: [
        [3, "line is an array, not a JSON object"],
        [4, "line is a string, not a JSON object"],
        [5, "line is a number, not a JSON object"],
        [6, "line is null, not a JSON object"],
        [7, "invalid JSON at column 27: the text ends before the value does"],
        [9, "nested more than 64 levels deep"],
        [10, "line is an array, not a JSON object"],
        [11, "no email field"],
      ],
    }],
    ["pretty.json", { rows: 2 }], // a JSON array of objects
  ];
  for (const [name, expect] of cases) {
    await t.step(name, async () => {
      await check(`${HOSTILE}/${name}`, expect);
    });
  }

  await t.step("every corpus file is covered", async () => {
    const names = (await Array.fromAsync(Deno.readDir(HOSTILE))).map((e) => e.name).sort();
    assert.deepEqual(names, cases.map(([n]) => n).sort());
  });
});

Deno.test("hostile inputs: generated big files", async (t) => {
  const dir = await tempDir();
  const enc = new TextEncoder();
  /** Writes `parts` (repeated `times`) to a file without building it in memory. */
  const write = async (name: string, parts: Array<string | [string, number]>) => {
    const path = `${dir}/${name}`;
    const file = await Deno.open(path, { write: true, create: true, truncate: true });
    const w = file.writable.getWriter();
    for (const p of parts) {
      if (typeof p === "string") await w.write(enc.encode(p));
      else {
        const [s, times] = p;
        const block = enc.encode(s.repeat(Math.max(1, Math.floor(65536 / s.length))));
        const per = block.length / enc.encode(s).length;
        let left = times;
        for (; left >= per; left -= per) await w.write(block);
        if (left > 0) await w.write(enc.encode(s.repeat(left)));
      }
    }
    await w.close();
    return path;
  };
  try {
    if (!hasGnuTime) {
      // deno-lint-ignore no-console
      console.warn(`${GNU_TIME} not found: peak RSS not measured`);
    }

    await t.step("a 10 MB quoted field (with newlines) is one rejected row", async () => {
      const path = await write("field_10mb.csv", [
        "email,notes\n",
        'a@example.com,"',
        ["x".repeat(1023) + "\n", 10_240],
        '"\nb@example.com,short\n',
      ]);
      await check(path, {
        rows: 2,
        rejects: [[2, `custom_fields.notes: ${TOO_BIG}`]],
        maxRssMb: 250,
      }, true);
    });

    await t.step("a 20 MB field → exit 2 at its line", async () => {
      const path = await write("field_20mb.csv", [
        "email,notes\nz@example.com,ok\n",
        'a@example.com,"',
        ["y".repeat(1024), 20_480],
        '"\n',
      ]);
      await check(path, {
        error: "line 3: a record runs past 16 MB; probably an unclosed quote — " +
          "check the quoting at that line",
        maxRssMb: 350,
      }, true);
    });

    await t.step("5,000 columns", async () => {
      const header = ["email", ...Array.from({ length: 4999 }, (_, i) => `c${i + 1}`)].join(",");
      const row = (i: number) =>
        [`u${i}@example.com`, ...Array.from({ length: 4999 }, (_, j) => `v${j}`)].join(",") + "\n";
      const path = await write("columns_5000.csv", [
        header + "\n",
        ...Array.from({ length: 200 }, (_, i) => row(i)),
        "bad," + "x,".repeat(4998) + "x\n",
      ]);
      await check(path, {
        rows: 201,
        rejects: [[202, 'email: not a valid email address ("bad"): no @']],
        maxRssMb: 500,
        args: ["--max-custom-fields", "5000"],
      }, true);
    });

    await t.step("a million blank lines between rows", async () => {
      const path = await write("blank_lines_1m.csv", [
        "email,name\na@example.com,Ann\n",
        ["\n", 1_000_000],
        "bad,Bob\nc@example.com,Cy\n",
      ]);
      await check(path, {
        rows: 3,
        rejects: [[1_000_003, 'email: not a valid email address ("bad"): no @']],
        maxRssMb: 350,
      }, true);
    });

    await t.step("a million CRLF blank lines before a ; header", async () => {
      const path = await write("blank_before_header_1m.csv", [
        ["\r\n", 1_000_000],
        "email;name\r\nbad;Ann\r\nb@example.com;Doe, Bo\r\n",
      ]);
      await check(path, {
        rows: 2,
        rejects: [[1_000_002, 'email: not a valid email address ("bad"): no @']],
        maxRssMb: 200,
      }, true);
    });

    for (
      const [ext, head, tail] of [
        ["csv", "email,name\na@example.com,Ann\n", "bad,Bob\n"],
        ["ndjson", '{"email":"a@example.com"}\n', '{"email":"bad"}\n'],
      ]
    ) {
      await t.step(
        `a gzip bomb of blank lines (.${ext}.gz, 64 KB → 64 MB) streams flat`,
        async () => {
          const mib = new Uint8Array(1 << 20).fill(0x0a);
          const parts = [
            enc.encode(head!),
            ...Array.from({ length: 64 }, () => mib),
            enc.encode(tail!),
          ];
          const gz = new Uint8Array(
            await new Response(
              ReadableStream.from(parts).pipeThrough(new CompressionStream("gzip")),
            ).arrayBuffer(),
          );
          assert.ok(gz.length < 100_000, `${gz.length}`);
          const path = `${dir}/bomb.${ext}.gz`;
          await Deno.writeFile(path, gz);
          const badLine = head!.split("\n").length + 64 * (1 << 20);
          await check(path, {
            rows: 2,
            rejects: [[badLine, 'email: not a valid email address ("bad"): no @']],
            maxRssMb: 300,
          }, true);
        },
      );
    }

    await t.step("a 20 MB NDJSON line → exit 2 at its line", async () => {
      const path = await write("long_line.ndjson", [
        '{"email":"a@example.com"}\n{"email":"b@example.com","x":"',
        ["z".repeat(1024), 20_480],
        '"}\n',
      ]);
      await check(path, {
        error:
          "line 2: a line runs past 16 MB — check that the input is NDJSON (one object per line)",
        maxRssMb: 350,
      }, true);
    });

    await t.step("a truncated .csv.gz → exit 2", async () => {
      const body = "email\n" + "a@example.com\n".repeat(5000);
      const gz = new Uint8Array(
        await new Response(
          ReadableStream.from([enc.encode(body)]).pipeThrough(new CompressionStream("gzip")),
        ).arrayBuffer(),
      );
      const path = `${dir}/cut.csv.gz`;
      await Deno.writeFile(path, gz.slice(0, gz.length - 20));
      const r = await runCli(["push", path, "--campaign-id", "1", "--dry-run", "--json"], {
        env: { XDG_STATE_HOME: `${dir}/state` },
      });
      assert.equal(r.code, 2);
      // The line reached, not always "line 1", and how far the data went.
      const m = new RegExp(
        `^error: ${path}: line (\\d+): the gzip data ends early or is damaged, after ${
          gz.length - 20
        } compressed bytes \\((\\d+) bytes decompressed\\): unexpected end of file — check ` +
          "that the file is complete \\(gzip -t\\); a download or copy may have been cut short\\n$",
      ).exec(r.stderr);
      assert.ok(m, r.stderr);
      assert.equal(Number(m[1]), body.slice(0, Number(m[2])).split("\n").length);
      assert.ok(Number(m[1]) > 4000, r.stderr);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
