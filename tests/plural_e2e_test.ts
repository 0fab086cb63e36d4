/** Counts in human output are pluralised correctly: "1 row", "1 duplicate", "1 lead". */
import assert from "node:assert/strict";
import { plural } from "../lib/plural.ts";
import { runCli, withSandbox } from "./helpers.ts";

Deno.test("plural: singular for exactly one, grouped digits", () => {
  assert.equal(plural(0, "row"), "0 rows");
  assert.equal(plural(1, "row"), "1 row");
  assert.equal(plural(2, "duplicate"), "2 duplicates");
  assert.equal(plural(1234, "lead"), "1,234 leads");
  assert.equal(plural(1, "index", "indexes"), "1 index");
  assert.equal(plural(3, "index", "indexes"), "3 indexes");
});

Deno.test("a run of one row, one duplicate and one lead says so in the singular", async () => {
  await withSandbox({}, async ({ dir, env }) => {
    const one = `${dir}/one.csv`;
    await Deno.writeTextFile(one, "email\na@ex.com\n");
    const r = await runCli(["push", one, "--campaign-id", "1"], { env });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stderr.split("\n");
    assert.equal(
      lines[0],
      "campaign 1: 1 row read, 1 valid, 0 rejected, 0 duplicates in the input",
    );
    assert.match(lines[2]!, /^2 requests in /); // the campaign check and one batch
    const dup = `${dir}/dup.csv`;
    await Deno.writeTextFile(dup, "email\nb@ex.com\nB@ex.com\n");
    const d = await runCli(["push", dup, "--campaign-id", "1", "--dry-run"], { env });
    assert.equal(d.code, 0, d.stderr);
    assert.equal(
      d.stderr.split("\n")[0],
      "dry run (nothing was written to Smartlead): 2 rows read, 1 valid, 0 rejected, 1 duplicate in the input",
    );
    assert.match(d.stderr, /\n1 request in /);
    // Mirroring the second file deletes the one lead of the first.
    const mirror = [
      "push",
      dup,
      "--campaign-id",
      "1",
      "--mode",
      "full-refresh",
      "--delete-missing",
    ];
    const stopped = await runCli(mirror, { env });
    assert.equal(stopped.code, 8);
    assert.match(stopped.stderr, /^error: the plan deletes 1 of 1 indexed lead \(100%\);/m);
    const del = await runCli([...mirror, "--max-deletes", "1"], { env });
    assert.equal(del.code, 0, del.stderr);
    assert.match(del.stderr, /^deleted 1 lead absent from this input$/m);
    const v = await runCli(["verify", "--campaign-id", "1"], { env });
    assert.equal(v.code, 0, v.stderr);
    assert.match(
      v.stderr,
      /^Smartlead: 1 lead in campaign 1 \(read from the campaign export\); index: 1 synced$/m,
    );
  });
});

Deno.test("a request that fails its only attempt says 1 time", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    sb.addFault({
      method: "GET",
      pathPattern: "/campaigns/1",
      times: 1,
      fault: { kind: "status", status: 503, when: "before" },
    });
    const csv = `${dir}/one.csv`;
    await Deno.writeTextFile(csv, "email\na@ex.com\n");
    const r = await runCli(["push", csv, "--campaign-id", "1", "--max-attempts", "1"], { env });
    assert.equal(r.code, 5);
    assert.match(r.stderr, /GET \/campaigns\/1 failed 1 time \(last: HTTP 503/);
  });
});
