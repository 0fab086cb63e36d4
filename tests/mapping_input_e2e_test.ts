/**
 * `mapping` reads its input like `push` (a file, `-`, or stdin when none is named) and shows
 * the keys of every NDJSON object (first-seen order, over the first 10,000 objects), not only
 * those of the first line.
 */
import assert from "node:assert/strict";
import { MAPPING_SAMPLE } from "../lib/commands/mapping.ts";
import { outcomeOf, runCli, underTerminal } from "./helpers.ts";

Deno.test("mapping reads stdin like push: no file, or -", async () => {
  const csv = "Work Email,First Name,Job Title\na@ex.com,Ann,CTO\n";
  const expected = '"Work Email" → email\n"First Name" → first_name\n' +
    '"Job Title" → custom_fields.Job Title\n';
  for (const args of [["mapping"], ["mapping", "-"]]) {
    const r = await runCli(args, { stdin: csv });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, expected);
    assert.equal(r.stderr, "");
  }
  const gz = new Uint8Array(
    await new Response(
      new Blob([csv]).stream().pipeThrough(new CompressionStream("gzip")),
    ).arrayBuffer(),
  );
  const zipped = await runCli(["mapping", "--json"], { stdin: gz });
  assert.equal(zipped.code, 0, zipped.stderr);
  const o = outcomeOf(zipped, "mapping");
  assert.equal(o.input, "-");
  assert.equal(o.format, "csv");
  assert.deepEqual((o.columns as Array<{ column: string }>).map((c) => c.column), [
    "Work Email",
    "First Name",
    "Job Title",
  ]);
});

Deno.test("mapping shows the keys of all NDJSON objects, in first-seen order", async () => {
  const ndjson = [
    `{"email":"a@ex.com","first_name":"Ann"}`,
    `{"email":"b@ex.com","Company":"Acme"}`,
    `not json`,
    `{"Title":"CTO","email":"c@ex.com","first_name":"Cy"}`,
  ].join("\n") + "\n";
  const r = await runCli(["mapping"], { stdin: ndjson });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    '"email" → email\n"first_name" → first_name\n"Company" → company_name\n' +
      '"Title" → custom_fields.Title\n',
  );
  assert.equal(r.stderr, "keys from 3 objects (all of <stdin>)\n");
  const j = await runCli(["mapping", "--json", "--format", "ndjson"], { stdin: ndjson });
  const o = outcomeOf(j, "mapping");
  assert.deepEqual([o.format, o.objects_read, o.all_objects_read], ["ndjson", 3, true]);
});

Deno.test("mapping reads the keys of the first 10,000 objects and says so", async () => {
  assert.equal(MAPPING_SAMPLE, 10_000);
  const lines = Array.from({ length: MAPPING_SAMPLE + 1 }, (_, i) => {
    // The last object that is read brings "Seen"; the one after it, "Late", is not read.
    const extra = i === MAPPING_SAMPLE - 1
      ? `,"Seen":"x"`
      : i === MAPPING_SAMPLE
      ? `,"Late":"x"`
      : "";
    return `{"email":"p${i}@ex.com"${extra}}`;
  });
  const r = await runCli(["mapping", "--json"], { stdin: lines.join("\n") + "\n" });
  assert.equal(r.code, 0, r.stderr);
  const o = outcomeOf(r, "mapping");
  assert.deepEqual((o.columns as Array<{ column: string }>).map((c) => c.column), [
    "email",
    "Seen",
  ]);
  assert.deepEqual([o.objects_read, o.all_objects_read], [MAPPING_SAMPLE, false]);
  const human = await runCli(["mapping"], { stdin: lines.join("\n") + "\n" });
  assert.equal(
    human.stderr,
    "keys from the first 10,000 objects of <stdin>; later ones may add more\n",
  );
});

Deno.test("mapping with a terminal on stdin says so instead of waiting", async () => {
  const { code, text } = await underTerminal(["mapping"], {});
  assert.equal(code, 2, text);
  assert.match(text, /^error: no input: stdin is a terminal — name a file/);
});
