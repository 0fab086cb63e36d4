import assert from "node:assert/strict";
import { UsageError } from "../lib/errors.ts";
import { parseJsonArray } from "../lib/input/json_array.ts";
import { jsonErrorOffset } from "../lib/input/json_value.ts";
import { readRows } from "../lib/input/parse.ts";
import type { Row } from "../lib/input/row.ts";
import { resolveInputs, type TextChunk } from "../lib/input/source.ts";

function toChunks(text: string, size = Infinity, source = "t.json"): TextChunk[] {
  const out: TextChunk[] = [];
  for (let i = 0; i < text.length; i += size) {
    out.push({ source, text: text.slice(i, i + size), bytesRead: 0, last: false });
  }
  out.push({ source, text: "", bytesRead: 0, last: true });
  return out;
}

async function parse(text: string, size = Infinity): Promise<Row[]> {
  return (await Array.fromAsync(parseJsonArray(ReadableStream.from(toChunks(text, size))))).flat();
}

function simple(rows: Row[]): Array<unknown[]> {
  return rows.map((r) =>
    r.problem
      ? [r.line, r.problem, r.raw]
      : [r.line, Object.fromEntries(r.columns.map((c, i) => [c, r.values[i]]))]
  );
}

async function usageError(p: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof UsageError, `expected a UsageError, got ${e}`);
    assert.equal(e.exitCode, 2);
    assert.equal(e.message, message);
    return true;
  });
}

Deno.test("parseJsonArray", async (t) => {
  const text = `[
  {"email": "a@x.com", "name": "Ann, \\"the\\" [first] {one}"},
  {"email": "b@x.com",
   "address": {"city": "Oslo"}, "tags": ["x", "y"]},
  {"email": oops},
  42, "s", null,
  {"email": "c@x.com"}
]
`;
  const expected = [
    [2, { email: "a@x.com", name: 'Ann, "the" [first] {one}' }],
    [3, { email: "b@x.com", "address.city": "Oslo", tags: ["x", "y"] }],
    [5, "invalid JSON at column 11: unexpected token 'o'", '{"email": oops}'],
    [6, "element is a number, not a JSON object", "42"],
    [6, "element is a string, not a JSON object", '"s"'],
    [6, "element is null, not a JSON object", "null"],
    [7, { email: "c@x.com" }],
  ];

  await t.step("objects, flattened; bad elements are rejected rows with their text", async () => {
    assert.deepEqual(simple(await parse(text)), expected);
  });

  for (const size of [1, 2, 5, 17, 64]) {
    await t.step(`the same in chunks of ${size}`, async () => {
      assert.deepEqual(simple(await parse(text, size)), expected);
    });
  }

  await t.step("an empty array or empty input → no rows", async () => {
    assert.deepEqual(await parse(" [ ]\n"), []);
    assert.deepEqual(await parse(""), []);
  });

  await t.step("structural errors → UsageError naming the line", async () => {
    await usageError(
      parse('\n{"email":"a@x.com"}'),
      "t.json: line 2: expected a JSON array of objects ([{...}, {...}])",
    );
    await usageError(
      parse('[{"a":1}\n {"b":2}]'),
      "t.json: line 2: expected , or ] after an array element",
    );
    await usageError(
      parse('[{"a":1},\n{"b":'),
      "t.json: line 2: the file ends inside an array element",
    );
    await usageError(parse('[{"a":1}\n'), "t.json: line 2: the JSON array is not closed (no ])");
    await usageError(
      parse('[{"a":1}]\n,x'),
      "t.json: line 2: text after the end of the JSON array",
    );
  });

  await t.step("jsonErrorOffset agrees with JSON.parse on validity", () => {
    for (const s of ['{"a":1}', "[1, 2.5e3, -0, true, null]", '"\\u00e9\\n"', " {} "]) {
      assert.equal(jsonErrorOffset(s), undefined, s);
    }
    for (
      const [s, at] of [['{"a":1', 6], ['{"a":01}', 6], ["[1,]", 3], ['"\\x"', 1], [
        "{} x",
        3,
      ]] as const
    ) {
      assert.throws(() => JSON.parse(s));
      assert.equal(jsonErrorOffset(s), at, s);
    }
  });
});

Deno.test("a .json file holding an array of objects is read as such", async () => {
  const dir = await Deno.makeTempDir({ prefix: "input-json-test-" });
  try {
    await Deno.writeTextFile(`${dir}/leads.json`, '[{"email":"a@x.com"},\n{"email":"b@x.com"}]');
    await Deno.writeTextFile(`${dir}/lines.json`, '{"email":"a@x.com"}\n{"email":"b@x.com"}\n');
    for (const name of ["leads.json", "lines.json"]) {
      const rows = (await Array.fromAsync(readRows(await resolveInputs([`${dir}/${name}`]))))
        .flat();
      assert.deepEqual(simple(rows), [[1, { email: "a@x.com" }], [2, { email: "b@x.com" }]], name);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
