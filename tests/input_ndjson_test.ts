import assert from "node:assert/strict";
import { UsageError } from "../lib/errors.ts";
import { MAX_DEPTH, parseNdjson } from "../lib/input/ndjson.ts";
import type { Row } from "../lib/input/row.ts";
import type { TextChunk } from "../lib/input/source.ts";

function toChunks(text: string, size = Infinity, source = "t.ndjson"): TextChunk[] {
  const out: TextChunk[] = [];
  for (let i = 0; i < text.length; i += size) {
    out.push({ source, text: text.slice(i, i + size), bytesRead: 0, last: false });
  }
  out.push({ source, text: "", bytesRead: 0, last: true });
  return out;
}

async function parse(text: string, size = Infinity): Promise<Row[]> {
  return (await Array.fromAsync(parseNdjson(ReadableStream.from(toChunks(text, size))))).flat();
}

function simple(rows: Row[]): Array<[number, Record<string, unknown> | string]> {
  return rows.map((r) => [
    r.line,
    r.problem ?? Object.fromEntries(r.columns.map((c, i) => [c, r.values[i]])),
  ]);
}

Deno.test("parseNdjson", async (t) => {
  const text = [
    '{"email":"a@x.com","first_name":"Ann","n":1,"ok":true,"none":null}',
    "",
    "   ",
    '{"email":"b@x.com","custom_fields":{"k":"v"}}\r',
    "[1,2]",
    '"just a string"',
    "42",
    "null",
    "true",
    '{"email": "c@x.com",',
    '{"email":"d@x.com"} trailing',
    '{"email":"e@x.com"}',
  ].join("\n");
  const expected = [
    [1, { email: "a@x.com", first_name: "Ann", n: 1, ok: true, none: null }],
    [4, { email: "b@x.com", custom_fields: { k: "v" } }],
    [5, "line is an array, not a JSON object"],
    [6, "line is a string, not a JSON object"],
    [7, "line is a number, not a JSON object"],
    [8, "line is null, not a JSON object"],
    [9, "line is a boolean, not a JSON object"],
    [10, "invalid JSON at column 21: the text ends before the value does"],
    [11, "invalid JSON at column 21: unexpected non-whitespace character after JSON"],
    [12, { email: "e@x.com" }],
  ];

  await t.step("objects, blank lines and every kind of bad line", async () => {
    assert.deepEqual(simple(await parse(text)), expected);
  });

  for (const size of [1, 2, 3, 7, 16, 64]) {
    await t.step(`the same in chunks of ${size}`, async () => {
      assert.deepEqual(simple(await parse(text, size)), expected);
    });
  }

  await t.step("rejected rows carry no columns or values", async () => {
    const [row] = await parse("[1]\n");
    assert.deepEqual([row!.columns, row!.values, row!.source], [[], [], "t.ndjson"]);
  });

  await t.step("nesting up to the limit is kept, deeper is rejected", async () => {
    const nest = (d: number) => '{"a":'.repeat(d) + "1" + "}".repeat(d);
    const ok = `{"email":"a@x.com","x":${nest(MAX_DEPTH - 1)}}`;
    const deep = `{"email":"a@x.com","x":${nest(MAX_DEPTH)}}`;
    const huge = `{"email":"a@x.com","x":${nest(200_000)}}`;
    const arrays = `{"email":"a@x.com","x":${"[".repeat(100_000)}${"]".repeat(100_000)}}`;
    const rows = await parse([ok, deep, huge, arrays, '{"email":"z@x.com"}'].join("\n"));
    assert.equal(rows.length, 5);
    assert.equal(rows[0]!.problem, undefined);
    assert.deepEqual(rows[0]!.columns, ["email", "x" + ".a".repeat(MAX_DEPTH - 1)]);
    assert.deepEqual(simple(rows.slice(1)), [
      [2, `nested more than ${MAX_DEPTH} levels deep`],
      [3, `nested more than ${MAX_DEPTH} levels deep`],
      [4, `nested more than ${MAX_DEPTH} levels deep`],
      [5, { email: "z@x.com" }],
    ]);
  });

  await t.step("a pretty-printed JSON document → UsageError naming the line", async () => {
    const hints = [
      "read it as a JSON array with --format json (or name it .json), or convert it: " +
      "jq -c '.[]' in.json > out.ndjson",
      "put each object on one line, e.g. jq -c . in.json > out.ndjson",
    ];
    for (const doc of ['\n[\n  {"email":"a@x.com"}\n]\n', '\n{\n  "email": "a@x.com"\n}\n']) {
      await assert.rejects(parse(doc), (e: unknown) => {
        assert.ok(e instanceof UsageError);
        assert.equal(e.hint, hints.shift());
        assert.ok(e instanceof UsageError);
        assert.equal(e.exitCode, 2);
        assert.equal(
          e.message,
          "t.ndjson: line 2: this is a pretty-printed JSON document, not NDJSON (one object per line)",
        );
        return true;
      });
    }
  });

  await t.step("an invalid line later on is only a rejected row", async () => {
    assert.deepEqual(simple(await parse('{"email":"a@x.com"}\n[\n{\n')), [
      [1, { email: "a@x.com" }],
      [2, "invalid JSON at column 2: the text ends before the value does"],
      [3, "invalid JSON at column 2: the text ends before the value does"],
    ]);
  });

  await t.step(
    "an invalid line keeps its raw text (without the CR) for the rejects file",
    async () => {
      const rows = await parse('{"email":"a@x.com"}\n{"email": "b@x.com" "x"}\r\n[1]\n');
      assert.deepEqual(rows.slice(1).map((r) => [r.line, r.problem, r.raw]), [
        [
          2,
          "invalid JSON at column 21: expected ',' or '}' after property value",
          '{"email": "b@x.com" "x"}',
        ],
        [3, "line is an array, not a JSON object", "[1]"],
      ]);
      assert.equal(rows[0]!.raw, undefined);
    },
  );

  await t.step(
    "nested objects are flattened to parent.child columns; custom_fields stays one object",
    async () => {
      const [row] = await parse(
        '{"email":"a@x.com","address":{"city":"Oslo","geo":{"lat":1}},"tags":["a","b"],' +
          '"custom_fields":{"k":"v","deep":{"x":"y"}},"empty":{}}',
      );
      assert.deepEqual(row!.columns, [
        "email",
        "address.city",
        "address.geo.lat",
        "tags",
        "custom_fields",
      ]);
      assert.deepEqual(row!.values, ["a@x.com", "Oslo", 1, ["a", "b"], { k: "v", "deep.x": "y" }]);
    },
  );

  await t.step("--nested reject leaves objects to be rejected by the lead", async () => {
    const rows = (await Array.fromAsync(
      parseNdjson(ReadableStream.from(toChunks('{"email":"a@x.com","address":{"city":"Oslo"}}')), {
        nested: "reject",
      }),
    )).flat();
    assert.deepEqual(rows[0]!.columns, ["email", "address"]);
    assert.deepEqual(rows[0]!.values, ["a@x.com", { city: "Oslo" }]);
  });

  await t.step("a dotted key clashing with a flattened one is a rejected row", async () => {
    assert.deepEqual(simple(await parse('{"email":"a@x.com","a.b":1,"a":{"b":2}}')), [
      [
        1,
        'key "a.b" appears twice once nested objects are flattened (a dotted key and a nested one)',
      ],
    ]);
  });

  await t.step("a __proto__ key stays an ordinary column", async () => {
    const [row] = await parse('{"email":"a@x.com","__proto__":"x"}');
    assert.deepEqual(row!.columns, ["email", "__proto__"]);
    assert.deepEqual(row!.values, ["a@x.com", "x"]);
  });

  await t.step("empty input → no rows", async () => {
    assert.deepEqual(await parse(""), []);
    assert.deepEqual(await parse("\n\n"), []);
  });
});
