/**
 * Unit tests of what the Airbyte and Singer front ends share: checkpoints, the line reader,
 * the email field and record rewrite, the campaign hash used to rebuild the index, full
 * refresh detection, and the driver against push() (rows counted as push counts them).
 */
import assert from "node:assert/strict";
import { isFullRefresh } from "../lib/airbyte/spec.ts";
import type { ConfiguredAirbyteStream } from "../lib/airbyte/messages.ts";
import { Checkpoints, OrdinalStreams } from "../lib/protocol/checkpoints.ts";
import { drive } from "../lib/protocol/driver.ts";
import {
  chooseEmailField,
  EMAIL_KEY,
  EMAIL_MAP,
  recordForPush,
} from "../lib/protocol/email_field.ts";
import { type Line, readLines } from "../lib/protocol/lines.ts";
import { campaignLeadHash } from "../lib/protocol/rebuild_index.ts";
import { validateRows } from "../lib/pipeline/validate.ts";
import { toStaged } from "../lib/pipeline/stage.ts";
import { leadJson, startSandbox } from "../lib/sandbox/server.ts";
import { tempDir } from "./helpers.ts";

Deno.test("Checkpoints: released in arrival order, never before their records are done", () => {
  const out: string[] = [];
  const c = new Checkpoints();
  c.add(0, () => out.push("a")); // nothing pending: at once
  assert.deepEqual(out, ["a"]);
  c.add(3, () => out.push("b"));
  c.add(3, () => out.push("c"));
  c.add(5, () => out.push("d"));
  c.committed(2);
  assert.deepEqual(out, ["a"]);
  c.committed(3);
  assert.deepEqual(out, ["a", "b", "c"]);
  c.committed(1); // never goes back
  c.add(4, () => out.push("e")); // behind d, which still waits
  assert.deepEqual(out, ["a", "b", "c"]);
  assert.equal(c.pending, 2);
  c.committed(9);
  assert.deepEqual(out, ["a", "b", "c", "d", "e"]);
  assert.equal(c.released, 5);
  assert.equal(c.pending, 0);
});

Deno.test("OrdinalStreams: the stream of each record ordinal, and counts per stream", () => {
  const s = new OrdinalStreams();
  for (const name of ["a", "a", "b", "a", "a", "a", "c"]) s.add(name);
  assert.deepEqual([0, 1, 2, 3, 5, 6, 7, -1].map((o) => s.streamOf(o)), [
    "a",
    "a",
    "b",
    "a",
    "a",
    "c",
    undefined,
    undefined,
  ]);
  assert.deepEqual([...s.perStream], [["a", 5], ["b", 1], ["c", 1]]);
  assert.equal(s.count, 7);
});

async function lines(chunks: Array<string | Uint8Array>): Promise<Line[]> {
  const enc = new TextEncoder();
  const stream = ReadableStream.from(chunks.map((c) => typeof c === "string" ? enc.encode(c) : c));
  return (await Array.fromAsync(readLines(stream, "stdin"))).flat();
}

Deno.test("readLines: lines across chunks, CRLF, blank lines, a last line without newline, UTF-8 split mid-character", async () => {
  const e = new TextEncoder().encode("é");
  assert.deepEqual(
    await lines(['{"a":1}\r\n\n{"b"', ':2}\n   \n{"c":"', e.subarray(0, 1), e.subarray(1), '"}']),
    [
      { number: 1, text: '{"a":1}' },
      { number: 3, text: '{"b":2}' },
      { number: 5, text: '{"c":"é"}' },
    ],
  );
  await assert.rejects(
    () => lines(["{}\n{}\n", new Uint8Array([0x7b, 0xff, 0x7d, 0x0a])]),
    { name: "ProtocolInputError", message: "stdin: line 3: not valid UTF-8" },
  );
});

Deno.test("the email field: email_field, else a one-field key that is an email, else automatic", () => {
  assert.deepEqual(chooseEmailField("mail_addr", [["id"]], {}), {
    field: "mail_addr",
    why: "email_field",
  });
  assert.equal(chooseEmailField(undefined, [["Work Email"]], {}).field, "Work Email");
  assert.equal(
    chooseEmailField(undefined, ["contact"], { properties: { contact: { format: "email" } } })
      .field,
    "contact",
  );
  assert.equal(chooseEmailField(undefined, [["id"]], {}).field, undefined);
  assert.equal(chooseEmailField(undefined, [["a", "email"]], {}).field, undefined);
  assert.equal(chooseEmailField(undefined, ["email", "id"], {}).field, undefined);
  assert.equal(chooseEmailField(undefined, undefined, {}).field, undefined);
});

Deno.test("recordForPush: the chosen field under the reserved key, null when absent; others untouched", () => {
  const data = JSON.parse('{"email":"x@example.com","work":"W@Example.com","__proto__":"p"}');
  const out = recordForPush(data, "work") as Record<string, unknown>;
  assert.deepEqual(Object.keys(out), [EMAIL_KEY, "email", "__proto__"]);
  assert.equal(out[EMAIL_KEY], "W@Example.com");
  assert.equal(Object.getOwnPropertyDescriptor(out, "__proto__")?.value, "p");
  assert.deepEqual(recordForPush({ email: "a@b.co" }, "work"), {
    [EMAIL_KEY]: null,
    email: "a@b.co",
  });
  assert.equal(recordForPush(data, undefined), data);
  assert.equal(recordForPush("text", "work"), "text");
});

Deno.test("campaignLeadHash: a lead as Smartlead shows it hashes as the record that made it", async () => {
  const records = [
    { email: " Ada@Example.COM ", first_name: " Ada ", company: "Analytical", zeta: 1, alpha: "" },
    { mail: "grace@example.com", tags: "b, a", custom_fields: { Title: "RADM" }, phone: 5551234 },
    { [EMAIL_KEY]: "linus@example.com", email: "other@example.com", website: "x.org" },
  ];
  const rows = records.map((r, i) => ({
    source: "<stdin>",
    line: i + 1,
    columns: Object.keys(r),
    values: Object.values(r),
  }));
  const checked = (await Array.fromAsync(
    validateRows(ReadableStream.from([rows]), { map: EMAIL_MAP, tags: ["tag1", "a"] }),
  )).flat();
  assert.equal(checked.length, 3);
  for (const c of checked) {
    assert.ok(c.ok);
    const staged = toStaged(c);
    // What the sandbox (and Smartlead's roster) shows for the lead: every field, null if unset.
    const shown = leadJson(
      {
        id: 1,
        writes: 1,
        created_at: "2026-01-01T00:00:00Z",
        custom_fields: {},
        ...c.lead,
      } as Parameters<typeof leadJson>[0],
    );
    assert.equal(campaignLeadHash(shown), staged.hash, JSON.stringify(shown));
    // Changed data changes the hash.
    assert.notEqual(campaignLeadHash({ ...shown, last_name: "Changed" }), staged.hash);
  }
  assert.equal(campaignLeadHash({ email: "not an email" }), undefined);
});

Deno.test("isFullRefresh: overwrite, or a refresh that truncates (minimum = generation > 0)", () => {
  const s = (mode: string, gen?: number, min?: number) =>
    ({
      destination_sync_mode: mode,
      generation_id: gen,
      minimum_generation_id: min,
    }) as unknown as ConfiguredAirbyteStream;
  assert.equal(isFullRefresh(s("overwrite")), true);
  assert.equal(isFullRefresh(s("append_dedup")), false);
  assert.equal(isFullRefresh(s("append_dedup", 3, 3)), true);
  assert.equal(isFullRefresh(s("append_dedup", 3, 0)), false);
  assert.equal(isFullRefresh(s("append_dedup", 0, 0)), false);
});

Deno.test("drive + push: one record is one row whatever its data; states wait for push's onCommitted", async () => {
  const sb = await startSandbox({ apiKey: "unit-key-1234" });
  const dir = await tempDir();
  try {
    const input = [
      JSON.stringify({ t: "S", n: 0 }),
      JSON.stringify({ t: "R", data: { email: "a@example.com" } }),
      JSON.stringify({ t: "R", data: "a string" }),
      JSON.stringify({ t: "R", data: [1, 2] }),
      JSON.stringify({ t: "R", data: null }),
      JSON.stringify({ t: "S", n: 4 }),
      JSON.stringify({ t: "R", data: {} }),
      JSON.stringify({ t: "R" }),
      JSON.stringify({ t: "R", data: { email: "b@example.com", nested: { deep: [1] } } }),
      JSON.stringify({ t: "S", n: 7 }),
    ].map((text, i) => ({ number: i + 1, text }));
    const emitted: Array<{ n: number; leads: number }> = [];
    const result = await drive(ReadableStream.from([input.slice(0, 3), input.slice(3)]), {
      handle: (line) => {
        const m = JSON.parse(line.text);
        if (m.t === "S") {
          return {
            kind: "state",
            emit: () => emitted.push({ n: m.n, leads: sb.state.campaignLeads(1).length }),
          };
        }
        return { kind: "record", stream: "s", data: m.data };
      },
      start: () =>
        Promise.resolve({
          inputs: ["-"],
          format: "ndjson" as const,
          campaignId: 1,
          apiKey: sb.apiKey,
          baseUrl: sb.url,
          state: `${dir}/state`,
          rejectsPath: `${dir}/rejects.ndjson`,
          maxRejects: { percent: 100 },
        }),
    });
    assert.equal(result.records.count, 7);
    assert.equal(result.summary!.rows, 7);
    // The nested object of the last record is flattened (nested.deep), so it is a lead.
    assert.equal(result.summary!.rejected, 5);
    assert.equal(result.summary!.added, 2);
    // The first state went out before any lead existed; the others after push's commit.
    assert.deepEqual(emitted, [{ n: 0, leads: 0 }, { n: 4, leads: 2 }, { n: 7, leads: 2 }]);
    const rejects = (await Deno.readTextFile(`${dir}/rejects.ndjson`)).trim().split("\n")
      .map((l) => JSON.parse(l).line);
    assert.deepEqual(rejects, [2, 3, 4, 5, 6]);
  } finally {
    await sb.close();
    await Deno.remove(dir, { recursive: true });
  }
});
