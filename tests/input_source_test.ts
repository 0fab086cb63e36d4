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

async function readAll(src: InputSource, stdin?: ReadableStream<Uint8Array>): Promise<string> {
  let text = "";
  for await (const c of readText(src, stdin)) text += c.text;
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
    assert.equal(formatFromName("a.json"), "ndjson");
    assert.equal(formatFromName("leads"), undefined);
    assert.equal(formatFromName("a.gz"), undefined);
  });

  await t.step("sniffFormat", () => {
    assert.equal(sniffFormat('{"email":"a@x.com"}'), "ndjson");
    assert.equal(sniffFormat('\r\n \t{"email":"a@x.com"}'), "ndjson");
    assert.equal(sniffFormat("email,name"), "csv");
    assert.equal(sniffFormat('["a"]'), "csv");
    assert.equal(sniffFormat(""), "csv");
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
    await usageError(resolveInputs([dir]), `cannot read ${dir}: not a file`);
    await usageError(resolveInputs(["-", "-"]), "stdin (-) is named more than once");
    assert.deepEqual(await resolveInputs([]), [STDIN]);
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

  await t.step("UTF-16 is named as such", async () => {
    await usageError(
      readAll(STDIN, ReadableStream.from([bytes([0xff, 0xfe], [0x65, 0, 0x0a, 0])])),
      "<stdin>: line 1: UTF-16 text, not UTF-8",
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

  await t.step("a truncated gzip file → UsageError", async () => {
    const full = await gz("email\n" + "a@x.com\n".repeat(1000));
    const path = await tempFile("cut.csv.gz", full.slice(0, full.length - 12));
    await assert.rejects(readAll((await resolveInputs([path]))[0]!), (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assert.equal(e.exitCode, 2);
      assert.match(e.message, new RegExp(`^${path}: line \\d+: cannot decompress: `));
      assert.equal(e.hint, "check that the file is a complete gzip file");
      return true;
    });
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
