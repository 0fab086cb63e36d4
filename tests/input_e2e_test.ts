/**
 * End-to-end: what spreadsheet exports and pipes throw at `push` (issue #11, Input), through
 * the real CLI against the sandbox over HTTP.
 */
import assert from "node:assert/strict";
import { cliArgs, countRequests, runCli, summaryOf, withSandbox } from "./helpers.ts";
import type { Sandbox } from "../lib/sandbox/server.ts";

const enc = new TextEncoder();

/** The sandbox's campaign leads, without ids and timestamps. */
function leads(sb: Sandbox, campaign = 1): Array<Record<string, unknown>> {
  return sb.state.campaignLeads(campaign).map((l) =>
    Object.fromEntries(
      Object.entries(l as unknown as Record<string, unknown>).filter(([k, v]) =>
        v !== null && !["id", "created_at", "writes"].includes(k) &&
        !(k === "custom_fields" && Object.keys(v as object).length === 0)
      ),
    )
  ).sort((a, b) => String(a.email).localeCompare(String(b.email)));
}

async function gzip(text: string): Promise<Uint8Array> {
  return new Uint8Array(
    await new Response(
      ReadableStream.from([enc.encode(text)]).pipeThrough(new CompressionStream("gzip")),
    ).arrayBuffer(),
  );
}

/** UTF-16 bytes of `text`, with a byte-order mark. */
function utf16(text: string, littleEndian: boolean): Uint8Array {
  const out = new Uint8Array(2 + text.length * 2);
  const view = new DataView(out.buffer);
  view.setUint16(0, 0xfeff, littleEndian);
  for (let i = 0; i < text.length; i++) view.setUint16(2 + i * 2, text.charCodeAt(i), littleEndian);
  return out;
}

/** Rejects file lines as objects. */
async function rejectsOf(path: string): Promise<Array<Record<string, unknown>>> {
  return (await Deno.readTextFile(path)).split("\n").filter((l) => l !== "").map((l) =>
    JSON.parse(l)
  );
}

Deno.test("Excel's Unicode Text (UTF-16 LE and BE with a byte-order mark, tabs) is read", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const text = "Email\tFirst Name\tCompany\r\nrene@example.com\tRené\t“Acme” – GmbH\r\n" +
      "zoe@example.com\tZoë\t東京\r\n";
    await Deno.writeFile(`${dir}/le.txt`, utf16(text, true));
    await Deno.writeFile(`${dir}/be.txt`, utf16(text.replaceAll("example", "be"), false));
    const r = await runCli(
      ["push", `${dir}/le.txt`, `${dir}/be.txt`, "--campaign-id", "1", "--json"],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.deepEqual([summaryOf(r).rows, summaryOf(r).added], [4, 4]);
    const got = leads(sb);
    assert.deepEqual(got.find((l) => l.email === "rene@example.com"), {
      email: "rene@example.com",
      first_name: "René",
      company_name: "“Acme” – GmbH",
    });
    assert.deepEqual(got.find((l) => l.email === "zoe@be.com"), {
      email: "zoe@be.com",
      first_name: "Zoë",
      company_name: "東京",
    });
  });
});

Deno.test("a Windows-1252 export: a clear hint without the flag, exact text with it", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    // "Lée", curly quotes (0x93 0x94) and an en dash (0x96): C1 controls under ISO-8859-1.
    const bytes = new Uint8Array([
      ...enc.encode("email;last_name;company\r\nann@example.com;L"),
      0xe9,
      ...enc.encode("e;"),
      0x93,
      ...enc.encode("Acme"),
      0x94,
      0x20,
      0x96,
      ...enc.encode(" Paris\r\n"),
    ]);
    const path = `${dir}/export.csv`;
    await Deno.writeFile(path, bytes);
    const refused = await runCli(["push", path, "--campaign-id", "1"], { env });
    assert.equal(refused.code, 2);
    assert.equal(
      refused.stderr,
      `error: ${path}: line 2: not valid UTF-8 (byte 0xe9) — Excel's CSV export on Windows is ` +
        'Windows-1252: pass --encoding windows-1252 (or save as "CSV UTF-8" in Excel)\n',
    );
    assert.equal(countRequests(sb).adds, 0);

    const r = await runCli(
      ["push", path, "--campaign-id", "1", "--encoding", "windows-1252", "--json"],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(leads(sb), [{
      email: "ann@example.com",
      last_name: "Lée",
      company_name: "“Acme” – Paris",
    }]);
    // latin1 is the same decoder (as in browsers): no C1 control characters either way.
    const bad = await runCli(["push", path, "--campaign-id", "1", "--encoding", "klingon"], {
      env,
    });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^error: --encoding "klingon": unknown encoding — use one of /);
  });
});

Deno.test("a unicode domain and its punycode spelling are one lead, sent in ASCII", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const path = `${dir}/idn.csv`;
    await Deno.writeTextFile(
      path,
      "email,first_name\nuser@müller.de,Ann\nUSER@XN--MLLER-KVA.DE,Anna\ninfo@例え.jp,Kei\n" +
        "bad\u200b@x.com,Zed\n",
    );
    const rejects = `${dir}/rejects.ndjson`;
    const args = ["push", path, "--campaign-id", "1", "--json", "--rejects", rejects];
    const r = await runCli(args, { env });
    assert.equal(r.code, 0, r.stderr);
    const s = summaryOf(r);
    assert.deepEqual([s.rows, s.valid, s.rejected, s.duplicates_in_input, s.added], [
      4,
      2,
      1,
      1,
      2,
    ]);
    assert.deepEqual(leads(sb), [
      { email: "info@xn--r8jz45g.jp", first_name: "Kei" },
      { email: "user@xn--mller-kva.de", first_name: "Anna" }, // the later row wins
    ]);
    assert.deepEqual((await rejectsOf(rejects)).map((j) => j.reason), [
      'email: not a valid email address ("bad\\u200b@x.com"): contains an invisible character ' +
      "(\\u200b) at position 4; retype the address",
    ]);
    // Rerun: nothing to send, whichever spelling.
    await Deno.writeTextFile(
      path,
      "email,first_name\nuser@xn--mller-kva.de,Anna\ninfo@例え.jp,Kei\n",
    );
    const again = await runCli(args, { env });
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual([summaryOf(again).unchanged, summaryOf(again).added], [2, 0]);
  });
});

Deno.test("named pipes: a FIFO path and bash process substitution", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const fifo = `${dir}/leads.fifo`;
    const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    assert.equal(made.code, 0);
    const run = runCli(["push", fifo, "--campaign-id", "1", "--json"], { env });
    let wrote = false;
    const writing = (async () => {
      const writer = await Deno.open(fifo, { write: true }); // waits for a reader
      await writer.write(enc.encode("email\na@example.com\nb@example.com\n"));
      writer.close();
      wrote = true;
    })();
    const r = await run;
    // The CLI reads to the end only after the writer closed; if it never opened the FIFO
    // (refused it), open the read end here so that the writer does not wait forever.
    if (!wrote) (await Deno.open(fifo, { read: true })).close();
    await writing.catch(() => {});
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([summaryOf(r).rows, summaryOf(r).added], [2, 2]);

    // push <(printf ...): bash passes /dev/fd/N, a pipe.
    const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
    const cmd = [Deno.execPath(), ...cliArgs(["push"])].map(quote).join(" ") +
      ` <(printf 'email\\nc@example.com\\n') --campaign-id 1 --json`;
    const out = await new Deno.Command("bash", {
      args: ["-c", cmd],
      clearEnv: true,
      env: {
        ...env,
        NO_COLOR: "1",
        HOME: Deno.env.get("HOME") ?? "/tmp",
        PATH: Deno.env.get("PATH") ?? "",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    assert.equal(JSON.parse(new TextDecoder().decode(out.stdout)).added, 1);
    assert.deepEqual(leads(sb).map((l) => l.email), [
      "a@example.com",
      "b@example.com",
      "c@example.com",
    ]);
  });
});

Deno.test("multi-member gzip (cat a.gz b.gz, gzip >>) is one input, every member read", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const a = await gzip("email,first_name\na@example.com,Ann\n");
    const b = await gzip("b@example.com,Bob\n");
    const c = await gzip("c@example.com,Cy\n");
    const path = `${dir}/leads.csv.gz`;
    await Deno.writeFile(path, new Uint8Array([...a, ...b, ...c]));
    const r = await runCli(["push", path, "--campaign-id", "1", "--json"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([summaryOf(r).rows, summaryOf(r).added], [3, 3]);
    assert.deepEqual(leads(sb).map((l) => [l.email, l.first_name]), [
      ["a@example.com", "Ann"],
      ["b@example.com", "Bob"],
      ["c@example.com", "Cy"],
    ]);
  });
});

Deno.test("no input file and an empty stdin (a cron line missing its file) says so", async () => {
  await withSandbox({}, async ({ sb, env }) => {
    const r = await runCli(["push", "--campaign-id", "1"], { env, stdin: "" });
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      "error: no input file given and stdin is empty — name the input file " +
        "(smartlead-sync push leads.csv) or pipe data in (... | smartlead-sync push -)\n",
    );
    // Given "-" explicitly: the feeding command printed nothing.
    const dash = await runCli(["push", "-", "--campaign-id", "1"], { env, stdin: "" });
    assert.equal(dash.code, 2);
    assert.equal(
      dash.stderr,
      "error: stdin is empty: nothing was piped in — check the command that feeds it " +
        "(its exit status and its output)\n",
    );
    assert.equal(countRequests(sb).adds, 0);
  });
});

Deno.test("duplicate headers: one warning, the first is mapped, both kept in the rejects file", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const path = `${dir}/dup.csv`;
    await Deno.writeTextFile(path, "email,Name,Name\na@example.com,Ann,Lee\nbad,Bob,Bee\n");
    const rejects = `${dir}/rejects.ndjson`;
    const r = await runCli(["push", path, "--campaign-id", "1", "--rejects", rejects], { env });
    assert.equal(r.code, 0, r.stderr);
    const warnings = r.stderr.split("\n").filter((l) => l.startsWith("warning:"));
    assert.deepEqual(warnings, [
      `warning: ${path}: line 1: column "Name" appears 2 times (columns 2 and 3): the first is ` +
      'mapped as "Name", the others are named "Name (2)" (pick one with --map <field>=<name>)',
    ]);
    assert.deepEqual(leads(sb), [{
      email: "a@example.com",
      custom_fields: { Name: "Ann", "Name (2)": "Lee" },
    }]);
    assert.deepEqual((await rejectsOf(rejects))[0]!.row, {
      email: "bad",
      Name: "Bob",
      "Name (2)": "Bee",
    });
    const m = await runCli(["mapping", path], { env });
    assert.equal(m.code, 0, m.stderr);
    assert.equal(m.stderr, warnings[0] + "\n");
    assert.match(m.stdout, /"Name \(2\)" → custom_fields\.Name \(2\)/);
  });
});

Deno.test("the custom-field cap: rows over it are rejected before sending, with a warning", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const path = `${dir}/wide.csv`;
    await Deno.writeTextFile(path, "email,a,b,c\none@example.com,1,,\nthree@example.com,1,2,3\n");
    const rejects = `${dir}/rejects.ndjson`;
    const r = await runCli(
      ["push", path, "--campaign-id", "1", "--max-custom-fields", "2", "--rejects", rejects],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `^warning: ${path}: line 1: 3 columns become custom fields; Smartlead takes at most 2 ` +
          "per lead: rows with more than 2 non-empty ones will be rejected",
        "m",
      ),
    );
    assert.deepEqual(leads(sb), [{ email: "one@example.com", custom_fields: { a: "1" } }]);
    assert.deepEqual((await rejectsOf(rejects)).map((j) => [j.line, j.reason]), [[
      3,
      "3 non-empty custom fields; Smartlead takes at most 2 per lead (--max-custom-fields): " +
      "drop columns with --map ignore=<column>",
    ]]);
    // Nothing was refused by Smartlead: the cap was known before sending.
    assert.equal(sb.requests.filter((q) => q.status === 400).length, 0);
  });
});

Deno.test("NDJSON and JSON arrays: arrays joined, objects flattened, bad lines keep their text", async () => {
  await withSandbox({ campaignIds: [1, 2] }, async ({ sb, dir, env }) => {
    const nd = `${dir}/leads.ndjson`;
    await Deno.writeTextFile(
      nd,
      '{"email":"a@example.com","tags":["x","y"],"address":{"city":"Oslo"}}\n' +
        '{"email":"b@example.com" "oops"}\n',
    );
    const arr = `${dir}/more.json`;
    await Deno.writeTextFile(
      arr,
      '[\n  {"email": "c@example.com", "company": {"name": "Acme"}}\n]\n',
    );
    const rejects = `${dir}/rejects.ndjson`;
    const r = await runCli(
      ["push", nd, arr, "--campaign-id", "1", "--rejects", rejects, "--tags", "t"],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(leads(sb), [
      { email: "a@example.com", custom_fields: { "address.city": "Oslo", tags: "x,y,t" } },
      { email: "c@example.com", company_name: "Acme", custom_fields: { tags: "t" } },
    ]);
    assert.deepEqual(await rejectsOf(rejects), [{
      source: nd,
      line: 2,
      reason: "invalid JSON at column 26: expected ',' or '}' after property value",
      row: {},
      raw: '{"email":"b@example.com" "oops"}',
    }]);
    // --nested reject: the object is a reason, not custom fields.
    const again = await runCli(
      ["push", nd, "--campaign-id", "2", "--nested", "reject", "--rejects", rejects],
      { env },
    );
    // Every row is rejected that way: the run fails (exit 2) without writing, reasons kept.
    assert.equal(again.code, 2, again.stderr);
    assert.match(
      (await rejectsOf(rejects))[0]!.reason as string,
      /^field "address" is a nested object/,
    );
  });
});

Deno.test("header-less CSV with --no-header --columns, --delimiter and --skip-rows", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const path = `${dir}/raw.txt`;
    await Deno.writeTextFile(
      path,
      "Report 2026\nexported by CRM\na@example.com|Ann\nb@example.com|Bob\n",
    );
    const r = await runCli([
      "push",
      path,
      "--campaign-id",
      "1",
      "--skip-rows",
      "2",
      "--delimiter",
      "pipe",
      "--no-header",
      "--columns",
      "email,first_name",
      "--json",
    ], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(leads(sb), [
      { email: "a@example.com", first_name: "Ann" },
      { email: "b@example.com", first_name: "Bob" },
    ]);
    const usage = await runCli(["push", path, "--campaign-id", "1", "--no-header"], { env });
    assert.equal(usage.code, 2);
    assert.equal(
      usage.stderr,
      "error: --no-header needs the column names — pass them in order, e.g. --columns " +
        "email,first_name,company\n",
    );
  });
});

Deno.test("an Excel sep=; first line sets the delimiter", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const path = `${dir}/excel.csv`;
    await Deno.writeTextFile(path, "sep=;\r\nemail;notes,with,commas\r\na@example.com;x,y\r\n");
    const r = await runCli(["push", path, "--campaign-id", "1", "--json"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(leads(sb), [{
      email: "a@example.com",
      custom_fields: { "notes,with,commas": "x,y" },
    }]);
  });
});
