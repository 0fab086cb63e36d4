import assert from "node:assert/strict";
import { UsageError } from "../lib/errors.ts";
import { readRows } from "../lib/input/parse.ts";
import {
  firstInvalidUtf8,
  formatFromName,
  incompleteTail,
  type InputSource,
  READ_SIZE,
  readText,
  resolveInputs,
  sniffFormat,
} from "../lib/input/source.ts";

const enc = new TextEncoder();
const STDIN: InputSource = { name: "<stdin>", path: undefined, size: undefined };

function bytes(...parts: Array<string | number[]>): Uint8Array {
  const arrays = parts.map((p) => typeof p === "string" ? enc.encode(p) : new Uint8Array(p));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let off = 0;
  for (const a of arrays) {
    out.set(a, off);
    off += a.length;
  }
  return out;
}

async function readAll(
  src: InputSource,
  stdin?: ReadableStream<Uint8Array>,
  encoding?: string,
): Promise<string> {
  let text = "";
  for await (const c of readText(src, stdin, encoding ? { encoding } : {})) text += c.text;
  return text;
}

async function usageError(p: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof UsageError, `expected a UsageError, got ${e}`);
    assert.equal(e.exitCode, 2);
    assert.equal(e.message, message);
    return true;
  });
}

async function tempFile(name: string, data: Uint8Array): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "input-source-test-" });
  await Deno.writeFile(`${dir}/${name}`, data);
  return `${dir}/${name}`;
}

Deno.test("format choice", async (t) => {
  await t.step("formatFromName", () => {
    assert.equal(formatFromName("a.csv"), "csv");
    assert.equal(formatFromName("A.TSV.GZ"), "csv");
    assert.equal(formatFromName("a.txt"), "csv");
    assert.equal(formatFromName("a.ndjson"), "ndjson");
    assert.equal(formatFromName("a.jsonl.gz"), "ndjson");
    assert.equal(formatFromName("a.json"), undefined); // sniffed: a JSON array or NDJSON
    assert.equal(formatFromName("leads"), undefined);
    assert.equal(formatFromName("a.gz"), undefined);
  });

  await t.step("sniffFormat", () => {
    assert.equal(sniffFormat('{"email":"a@x.com"}'), "ndjson");
    assert.equal(sniffFormat('\r\n \t{"email":"a@x.com"}'), "ndjson");
    assert.equal(sniffFormat("email,name"), "csv");
    assert.equal(sniffFormat(' [{"email":"a@x.com"}]'), "json");
    assert.equal(sniffFormat(""), "csv");
    assert.equal(sniffFormat("", "x.json"), "ndjson");
    assert.equal(sniffFormat("email", "x.JSON.gz"), "ndjson");
  });

  await t.step("a file without a telling extension is sniffed", async () => {
    const path = await tempFile("leads", bytes('{"email":"a@x.com"}\n'));
    const rows = (await Array.fromAsync(readRows(await resolveInputs([path])))).flat().filter((r) =>
      !r.header
    );
    assert.deepEqual(rows.map((r) => [r.line, r.columns, r.values]), [
      [1, ["email"], ["a@x.com"]],
    ]);
  });

  await t.step("resolveInputs errors", async () => {
    await usageError(
      resolveInputs(["/nonexistent/x.csv"]),
      "cannot read /nonexistent/x.csv: no such file",
    );
    const dir = await Deno.makeTempDir();
    await usageError(resolveInputs([dir]), `cannot read ${dir}: is a directory`);
    await usageError(resolveInputs(["-", "-"]), "stdin (-) is named more than once");
    assert.deepEqual(await resolveInputs([]), [{ ...STDIN, implicit: true }]);
    assert.deepEqual(await resolveInputs(["-"]), [STDIN]);
  });
});

Deno.test("strict UTF-8", async (t) => {
  await t.step("Latin-1 bytes → UsageError naming the file, line and byte", async () => {
    const path = await tempFile(
      "latin1.csv",
      bytes("email,name\na@x.com,Ann\nb@x.com,Ren", [0xe9], "\n"),
    );
    await usageError(
      readAll((await resolveInputs([path]))[0]!),
      `${path}: line 3: not valid UTF-8 (byte 0xe9)`,
    );
  });

  await t.step("the line is exact deep into a file bigger than one read", async () => {
    const body = "email\n" + "a@x.com\n".repeat(300_000); // 2.4 MB: three reads
    const path = await tempFile("big.csv", bytes(body, "b@x.com", [0xff], "\n"));
    await usageError(
      readAll((await resolveInputs([path]))[0]!),
      `${path}: line 300002: not valid UTF-8 (byte 0xff)`,
    );
  });

  await t.step(
    "a sequence split across pieces is fine; broken across pieces is found",
    async () => {
      const e = [0xe2, 0x82, 0xac]; // €
      const good = [bytes("email\n\u00e9", e.slice(0, 1)), bytes(e.slice(1), "\n")];
      assert.equal(await readAll(STDIN, ReadableStream.from(good)), "email\n\u00e9\u20ac\n");
      // Over 1 MB so that the first piece is decoded alone, ending in a held partial sequence.
      const head = "x\n".repeat(600_000);
      const bad = [bytes(head, [0xe2, 0x82]), bytes("A\n")];
      await usageError(
        readAll(STDIN, ReadableStream.from(bad)),
        "<stdin>: line 600001: not valid UTF-8 (byte 0xe2)",
      );
    },
  );

  await t.step("surrogates and overlong forms are invalid, at the right line", async () => {
    for (
      const seq of [[0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xf4, 0x90, 0x80, 0x80]]
    ) {
      const input = bytes("email\na@x.com\n", seq, "\nb@x.com\n");
      await usageError(
        readAll(STDIN, ReadableStream.from([input])),
        `<stdin>: line 3: not valid UTF-8 (byte 0x${seq[0]!.toString(16)})`,
      );
    }
  });

  await t.step("a truncated sequence at the end of the input", async () => {
    await usageError(
      readAll(STDIN, ReadableStream.from([bytes("email\n\nx", [0xf0, 0x9f])])),
      "<stdin>: line 3: not valid UTF-8 (byte 0xf0)",
    );
  });

  await t.step("UTF-16 without a byte-order mark is named, with the flag to pass", async () => {
    await assert.rejects(
      readAll(STDIN, ReadableStream.from([bytes([0x65, 0, 0x6d, 0, 0x0a, 0])])),
      (e: unknown) => {
        assert.ok(e instanceof UsageError);
        assert.equal(
          e.message,
          "<stdin>: line 1: looks like UTF-16 text without a byte-order mark",
        );
        assert.equal(e.hint, "pass --encoding utf-16le");
        return true;
      },
    );
  });

  await t.step("invalid UTF-8 suggests Windows-1252, not iconv -f latin1", async () => {
    await assert.rejects(
      readAll(STDIN, ReadableStream.from([bytes("email,n\na@x.com,", [0x93], "Hi", [0x94])])),
      (e: unknown) => {
        assert.ok(e instanceof UsageError);
        assert.equal(e.message, "<stdin>: line 2: not valid UTF-8 (byte 0x93)");
        assert.equal(
          e.hint,
          "Excel's CSV export on Windows is Windows-1252: pass --encoding windows-1252 " +
            '(or save as "CSV UTF-8" in Excel)',
        );
        return true;
      },
    );
  });

  await t.step("NUL bytes → UsageError naming the line", async () => {
    const path = await tempFile("nul.csv", bytes("email\r\na@x.com\r\nb", [0], "@x.com\r\n"));
    await usageError(
      readAll((await resolveInputs([path]))[0]!),
      `${path}: line 3: contains a NUL byte; this looks like binary data, not CSV or NDJSON`,
    );
  });

  await t.step("UTF-8 BOM removed, other text kept", async () => {
    const text = await readAll(
      STDIN,
      ReadableStream.from([bytes([0xef, 0xbb, 0xbf], "email\n\u00fc\n")]),
    );
    assert.equal(text, "email\n\u00fc\n");
  });

  await t.step("firstInvalidUtf8 and incompleteTail", () => {
    assert.equal(firstInvalidUtf8(bytes("ab", [0x80])), 2);
    assert.equal(firstInvalidUtf8(bytes("a\u00e9", [0xc3, 0x28])), 3);
    assert.equal(firstInvalidUtf8(bytes("\u{1F600}", [0xf5])), 4);
    assert.equal(incompleteTail(bytes("a")), 0);
    assert.equal(incompleteTail(bytes("a", [0xe2])), 1);
    assert.equal(incompleteTail(bytes("a", [0xe2, 0x82])), 2);
    assert.equal(incompleteTail(bytes("a", [0xe2, 0x82, 0xac])), 0);
    assert.equal(incompleteTail(bytes([0xf0, 0x9f, 0x98])), 3);
    assert.equal(incompleteTail(bytes([0xf0, 0x9f, 0x98, 0x80])), 0);
  });
});

Deno.test("gzip", async (t) => {
  const gz = async (text: string) =>
    new Uint8Array(
      await new Response(
        ReadableStream.from([enc.encode(text)]).pipeThrough(new CompressionStream("gzip")),
      ).arrayBuffer(),
    );

  await t.step("detected by magic bytes, not the name", async () => {
    const path = await tempFile("leads.csv", await gz("email\na@x.com\n"));
    assert.equal(await readAll((await resolveInputs([path]))[0]!), "email\na@x.com\n");
  });

  await t.step(
    "a truncated gzip file → UsageError naming the line reached and the bytes",
    async () => {
      const text = "email\n" + Array.from({ length: 3000 }, (_, i) => `lead${i}@x.com\n`).join("");
      const full = await gz(text);
      const cut = full.slice(0, Math.floor(full.length * 0.6));
      const path = await tempFile("cut.csv.gz", cut);
      await assert.rejects(readAll((await resolveInputs([path]))[0]!), (e: unknown) => {
        assert.ok(e instanceof UsageError);
        assert.equal(e.exitCode, 2);
        const m = new RegExp(
          `^${path}: line (\\d+): the gzip data ends early or is damaged, after ${cut.length} ` +
            `compressed bytes \\((\\d+) bytes decompressed\\): unexpected end of file$`,
        ).exec(e.message);
        assert.ok(m, e.message);
        const decompressed = Number(m[2]);
        assert.ok(decompressed > 0 && decompressed < text.length, e.message);
        // The line is the one the decompressed bytes reached, not "line 1".
        const reached = text.slice(0, decompressed).split("\n").length;
        assert.equal(Number(m[1]), reached);
        assert.ok(reached > 1);
        assert.equal(
          e.hint,
          "check that the file is complete (gzip -t); a download or copy may have been cut short",
        );
        return true;
      });
    },
  );

  await t.step("multi-member gzip (cat a.gz b.gz, gzip >>) is read whole", async () => {
    const a = await gz("email\na@x.com\n");
    const b = await gz("b@x.com\n");
    const c = await gz("c@x.com\n");
    const path = await tempFile("multi.csv.gz", bytes([...a], [...b], [...c]));
    assert.equal(
      await readAll((await resolveInputs([path]))[0]!),
      "email\na@x.com\nb@x.com\nc@x.com\n",
    );
    // The same on stdin, the second member's header split across writes.
    const all = bytes([...a], [...b]);
    const split = a.length + 3;
    assert.equal(
      await readAll(STDIN, ReadableStream.from([all.slice(0, split), all.slice(split)])),
      "email\na@x.com\nb@x.com\n",
    );
  });

  await t.step("a gzip bomb streams in bounded chunks", async () => {
    // 64 MiB of blank lines, about 64 KiB compressed: no decoded chunk exceeds ~1 MiB.
    const mib = new Uint8Array(1 << 20).fill(0x0a);
    const compressed = new Uint8Array(
      await new Response(
        ReadableStream.from(Array.from({ length: 64 }, () => mib)).pipeThrough(
          new CompressionStream("gzip"),
        ),
      ).arrayBuffer(),
    );
    assert.ok(compressed.length < 1 << 18);
    let total = 0;
    let largest = 0;
    let chunks = 0;
    for await (const c of readText(STDIN, ReadableStream.from([compressed]))) {
      total += c.text.length;
      largest = Math.max(largest, c.text.length);
      chunks++;
    }
    assert.equal(total, 64 << 20);
    assert.ok(largest <= (1 << 20) + (64 << 10), `largest chunk ${largest}`);
    assert.ok(chunks >= 60, `chunks ${chunks}`);
  });

  await t.step("chunks report compressed bytes read and end with last", async () => {
    const data = await gz("email\n" + "a@x.com\n".repeat(10));
    const path = await tempFile("x.csv.gz", data);
    const chunks = await Array.fromAsync(readText((await resolveInputs([path]))[0]!));
    assert.equal(chunks.at(-1)!.last, true);
    assert.equal(chunks.filter((c) => c.last).length, 1);
    assert.equal(chunks.at(-1)!.bytesRead, data.length);
    assert.equal(chunks.map((c) => c.text).join(""), "email\n" + "a@x.com\n".repeat(10));
  });
});

Deno.test("readText coalesces small pieces into chunks of READ_SIZE", async () => {
  const piece = enc.encode("x".repeat(1023) + "\n");
  const n = (READ_SIZE / 1024) * 2 + 50; // two and a bit chunks, in 1 KiB writes
  const pieces = Array.from({ length: n }, () => piece);
  const chunks = await Array.fromAsync(readText(STDIN, ReadableStream.from(pieces)));
  assert.deepEqual(chunks.map((c) => [c.text.length, c.last]), [
    [READ_SIZE, false],
    [READ_SIZE, false],
    [50 * 1024, true],
  ]);
});
