/**
 * Control and bidi characters never reach a terminal or the rejects file raw: a CSV header,
 * a field, a server message. Unit tests for `escapeControl`, then end to end.
 */
import assert from "node:assert/strict";
import { escapeControl } from "../lib/escape.ts";
import { runCli, withSandbox } from "./helpers.ts";

/** Terminal title + clear screen, a right-to-left override, an 8-bit CSI, DEL. */
const HOSTILE = "\x1b]0;pwned\x07\x1b[2J\u202eevil\x9b31m\x7f";
// deno-lint-ignore no-control-regex
const RAW = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

Deno.test("escapeControl", async (t) => {
  await t.step("C0 (but newline and tab), DEL, C1, bidi and line separators become \\uXXXX", () => {
    assert.equal(
      escapeControl(`a${HOSTILE}\tb\nc\r\u2028\u2066\u200f\u061c`),
      String.raw`a\u001b]0;pwned\u0007\u001b[2J\u202eevil\u009b31m\u007f` +
        "\tb\n" + String.raw`c\u000d\u2028\u2066\u200f\u061c`,
    );
  });
  await t.step("one-line mode escapes newline and tab too", () => {
    assert.equal(escapeControl("a\tb\nc", true), String.raw`a\u0009b\u000ac`);
  });
  await t.step("ordinary text, accents and emoji are untouched", () => {
    const text = 'Zoë Ünal — 東京 👋 "quoted" back\\slash';
    assert.equal(escapeControl(text), text);
  });
  await t.step("on JSON text it is lossless", () => {
    const value = { header: HOSTILE, nested: [`x${HOSTILE}`] };
    const escaped = escapeControl(JSON.stringify(value));
    assert.doesNotMatch(escaped, RAW);
    assert.deepEqual(JSON.parse(escaped), value);
  });
});

Deno.test("mapping prints a hostile header escaped, on stdout and stderr, text and JSON", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const csv = `${dir}/h.csv`;
    await Deno.writeTextFile(csv, `email,${HOSTILE}\nann@ex.com,1\n`);
    const text = await runCli(["mapping", csv]);
    assert.equal(text.code, 0, text.stderr);
    assert.doesNotMatch(text.stdout, RAW);
    assert.equal(
      text.stdout,
      '"email" → email\n' +
        String
          .raw`"\u001b]0;pwned\u0007\u001b[2J\u202eevil\u009b31m\u007f" → custom_fields.\u001b]0;pwned\u0007\u001b[2J\u202eevil\u009b31m\u007f` +
        "\n",
    );
    const json = await runCli(["mapping", csv, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    assert.doesNotMatch(json.stdout, RAW);
    assert.equal(JSON.parse(json.stdout).columns[1].column, HOSTILE); // the same JSON, only escaped

    // A file without an email column: the error quotes the header on stderr.
    const noEmail = `${dir}/n.csv`;
    await Deno.writeTextFile(noEmail, `${HOSTILE}\nx\n`);
    const err = await runCli(["push", noEmail, "--campaign-id", "1", "--dry-run"], {
      env: { XDG_STATE_HOME: dir },
    });
    assert.equal(err.code, 2, err.stderr);
    // (The ";" in the header made it sniff as semicolon-separated.)
    assert.match(err.stderr, /"\\u001b\]0", "pwned\\u0007\\u001b\[2J\\u202eevil\\u009b31m\\u007f"/);
    assert.doesNotMatch(err.stderr, RAW);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the rejects file and the summary escape hostile fields and server messages", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    // Smartlead's 400 for the one lead carries escape sequences in its message.
    sb.addFault({
      method: "POST",
      pathPattern: "/leads",
      times: 1,
      fault: {
        kind: "status",
        status: 400,
        when: "before",
        body: JSON.stringify({ message: `"lead_list[0]" ${HOSTILE}` }),
      },
    });
    const csv = `${dir}/leads.csv`;
    const rejects = `${dir}/rejects.ndjson`;
    await Deno.writeTextFile(csv, `Email,Name\nnot-an-email,${HOSTILE}\nann@ex.com,Ann\n`);
    const r = await runCli(
      ["--debug", "push", csv, "--campaign-id", "1", "--rejects", rejects],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, RAW);
    assert.match(r.stderr, /\\u001b\]0;pwned\\u0007\\u001b\[2J\\u202eevil/);
    const text = await Deno.readTextFile(rejects);
    const lines = text.trim().split("\n");
    assert.doesNotMatch(text.replaceAll("\n", ""), RAW);
    const parsed = lines.map((l) => JSON.parse(l));
    assert.deepEqual(parsed.map((x) => [x.line, x.reason]), [
      [2, 'email: not a valid email address ("not-an-email"): no @'],
      [3, `Smartlead refused it: "lead_list[0]" ${escapeControl(HOSTILE, true)}`],
    ]);
    assert.equal(parsed[0].row.Name, HOSTILE); // the row itself is kept exactly
  });
});
