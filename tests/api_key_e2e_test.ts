/**
 * Where the API key comes from: --api-key-file and SMARTLEAD_API_KEY_FILE (Docker and
 * Kubernetes secrets), the precedence between them, the refusals (empty, a directory, several
 * lines, both at one level), redaction of a key read from a file, and the warning that
 * --api-key is visible in ps.
 */
import assert from "node:assert/strict";
import { MAX_KEY_FILE_BYTES, readKeyFile } from "../lib/commands/api_key.ts";
import {
  countRequests,
  outcomeOf,
  readAllFiles,
  runCli,
  summaryOf,
  tempDir,
  withSandbox,
} from "./helpers.ts";

const PS_WARNING =
  "warning: --api-key on the command line is visible to other users of this machine (ps) — " +
  "use SMARTLEAD_API_KEY or --api-key-file instead\n";

Deno.test("--api-key-file: a secret file with a trailing newline is the key, and it never leaks", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const keyFile = `${dir}/smartlead_api_key`;
    await Deno.writeTextFile(keyFile, `${sb.apiKey}\n`);
    const csv = `${dir}/leads.csv`;
    // The second row is rejected and carries the key in a column: the rejects file and the
    // output must show it redacted, which proves the key read from the file is registered.
    await Deno.writeTextFile(csv, `email,note\na@ex.com,hi\nnot-an-email,${sb.apiKey}\n`);
    const { SMARTLEAD_API_KEY: _, ...noKey } = env;
    const r = await runCli(
      [
        "push",
        csv,
        "--campaign-id",
        "1",
        "--api-key-file",
        keyFile,
        "--rejects",
        `${dir}/rejects.ndjson`,
        "--json",
        "--debug",
      ],
      { env: noKey },
    );
    assert.equal(r.code, 0, r.stderr);
    const s = summaryOf(r);
    assert.equal(s.added, 1);
    assert.equal(s.rejected, 1);
    assert.equal(sb.state.campaignLeads(1).length, 1);
    assert.doesNotMatch(r.stderr, /warning: --api-key/);
    const rejects = await Deno.readTextFile(`${dir}/rejects.ndjson`);
    assert.equal(JSON.parse(rejects).row.note, "***");
    // Everything written (the index, the rejects file) and printed; the inputs hold the key.
    const written = (await readAllFiles(dir)).filter((f) => f.path !== keyFile && f.path !== csv);
    assert.ok(written.some((f) => f.path.endsWith(".db")));
    for (const text of [r.stdout, r.stderr, ...written.map((f) => f.text)]) {
      assert.ok(!text.includes(sb.apiKey), text);
    }
  });
});

Deno.test("SMARTLEAD_API_KEY_FILE is read like --api-key-file (CRLF and spaces trimmed)", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const keyFile = `${dir}/key`;
    await Deno.writeTextFile(keyFile, `  ${sb.apiKey} \r\n`);
    const { SMARTLEAD_API_KEY: _, ...noKey } = env;
    const r = await runCli(["check", "--campaign-id", "1", "--json"], {
      env: { ...noKey, SMARTLEAD_API_KEY_FILE: keyFile },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(outcomeOf(r, "check").campaign_id, 1);
  });
});

Deno.test("precedence: --api-key > --api-key-file > SMARTLEAD_API_KEY > SMARTLEAD_API_KEY_FILE > config", async (t) => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const good = `${dir}/good`;
    const bad = `${dir}/bad`;
    await Deno.writeTextFile(good, sb.apiKey);
    await Deno.writeTextFile(bad, "wrong-key-1");
    const config = `${dir}/smartlead-sync.jsonc`;
    await Deno.writeTextFile(config, `{ "api_key": "wrong-key-2", "campaign_id": 1 }`);
    const { SMARTLEAD_API_KEY: _, ...noKey } = env;
    const check = (args: string[], extra: Record<string, string>) =>
      runCli(["check", "--config", config, ...args], { env: { ...noKey, ...extra } });
    await t.step("a flag wins over the environment", async () => {
      const r = await check(["--api-key-file", good], {
        SMARTLEAD_API_KEY: "wrong-key-3",
      });
      assert.equal(r.code, 0, r.stderr);
      const w = await check(["--api-key", sb.apiKey], { SMARTLEAD_API_KEY_FILE: bad });
      assert.equal(w.code, 0, w.stderr);
    });
    await t.step("the environment wins over the config file", async () => {
      const r = await check([], { SMARTLEAD_API_KEY_FILE: good });
      assert.equal(r.code, 0, r.stderr);
      const w = await check([], { SMARTLEAD_API_KEY_FILE: bad });
      assert.equal(w.code, 3, w.stderr);
    });
    await t.step("the config file's key is the last resort", async () => {
      const r = await check([], {});
      assert.equal(r.code, 3, r.stderr);
    });
    await t.step("two ways at one level are refused before any request", async () => {
      const before = sb.requests.length;
      const flags = await check(["--api-key", sb.apiKey, "--api-key-file", good], {});
      assert.equal(flags.code, 2);
      assert.equal(
        flags.stderr,
        "error: --api-key and --api-key-file are both given — give one of them (--api-key-file keeps the key out of ps)\n",
      );
      const vars = await check([], { SMARTLEAD_API_KEY: sb.apiKey, SMARTLEAD_API_KEY_FILE: good });
      assert.equal(vars.code, 2);
      assert.equal(
        vars.stderr,
        "error: SMARTLEAD_API_KEY and SMARTLEAD_API_KEY_FILE are both set — unset one of them\n",
      );
      assert.equal(sb.requests.length, before);
    });
  });
});

Deno.test("a key file that is empty, a directory, missing or several lines: exit 2, no request", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    await Deno.writeTextFile(`${dir}/empty`, "\n");
    await Deno.writeTextFile(`${dir}/two`, "KEY=abc\nOTHER=def\n");
    await Deno.mkdir(`${dir}/secrets`);
    const { SMARTLEAD_API_KEY: _, ...noKey } = env;
    const cases: Array<[string, string]> = [
      [
        `${dir}/empty`,
        `error: the API key file ${dir}/empty (--api-key-file) is empty — write the key into it, or check --api-key-file\n`,
      ],
      [
        `${dir}/secrets`,
        `error: the API key file ${dir}/secrets (--api-key-file) is a directory — name the file in it that holds the key (e.g. /run/secrets/<name>), with --api-key-file\n`,
      ],
      [
        `${dir}/missing`,
        `error: the API key file ${dir}/missing (--api-key-file) cannot be read: no such file — check --api-key-file\n`,
      ],
      [
        `${dir}/two`,
        `error: the API key file ${dir}/two (--api-key-file) holds more than the key (whitespace or several lines inside) — the file must hold the key alone, on one line\n`,
      ],
    ];
    for (const [path, message] of cases) {
      const r = await runCli(
        ["push", "--campaign-id", "1", "--api-key-file", path, "--json"],
        { env: noKey, stdin: "email\na@ex.com\n" },
      );
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr, message);
      assert.equal(outcomeOf(r, "push").error, message.slice("error: ".length).split(" — ")[0]);
    }
    // The variable is named as the origin.
    const v = await runCli(["check", "--campaign-id", "1"], {
      env: { ...noKey, SMARTLEAD_API_KEY_FILE: `${dir}/empty` },
    });
    assert.equal(v.code, 2);
    assert.equal(
      v.stderr,
      `error: the API key file ${dir}/empty (SMARTLEAD_API_KEY_FILE) is empty — write the key into it, or check SMARTLEAD_API_KEY_FILE\n`,
    );
    assert.equal(countRequests(sb).all, 0);
  });
});

Deno.test("--api-key on the command line: one warning that ps shows it (none with --quiet or from the environment)", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, "email\na@ex.com\n");
    const { SMARTLEAD_API_KEY: _, ...noKey } = env;
    const r = await runCli(["push", csv, "--campaign-id", "1", "--api-key", sb.apiKey], {
      env: noKey,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stderr.startsWith(PS_WARNING), r.stderr);
    assert.equal(r.stderr.split("warning:").length, 2); // once
    const quiet = await runCli(
      ["push", csv, "--campaign-id", "1", "--api-key", sb.apiKey, "--quiet"],
      { env: noKey },
    );
    assert.equal(quiet.code, 0);
    assert.equal(quiet.stderr, "");
    const fromEnv = await runCli(["check", "--campaign-id", "1"], { env });
    assert.equal(fromEnv.code, 0);
    assert.doesNotMatch(fromEnv.stderr, /warning/);
  });
});

Deno.test("readKeyFile: BOM and whitespace removed; too large, not text: refused", async () => {
  const dir = await tempDir();
  try {
    await Deno.writeTextFile(`${dir}/bom`, "\uFEFFkey-with-bom-1\n");
    assert.equal(await readKeyFile(`${dir}/bom`, "--api-key-file"), "key-with-bom-1");
    await Deno.writeFile(`${dir}/big`, new Uint8Array(MAX_KEY_FILE_BYTES + 1).fill(0x61));
    await assert.rejects(readKeyFile(`${dir}/big`, "--api-key-file"), {
      name: "UsageError",
      message: `the API key file ${dir}/big (--api-key-file) is larger than 64 kB: not a key file`,
    });
    await Deno.writeFile(`${dir}/binary`, new Uint8Array([0xff, 0xfe, 0x00, 0x41]));
    await assert.rejects(readKeyFile(`${dir}/binary`, "SMARTLEAD_API_KEY_FILE"), {
      name: "UsageError",
      message:
        `the API key file ${dir}/binary (SMARTLEAD_API_KEY_FILE) is not text: not a key file`,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--api-key-file reads a pipe, as from <(pass show smartlead)", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const fifo = `${dir}/key.fifo`;
    const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    assert.equal(made.code, 0);
    const { SMARTLEAD_API_KEY: _, ...noKey } = env;
    // The writer blocks until the CLI opens the pipe to read it.
    const writing = Deno.writeTextFile(fifo, `${sb.apiKey}\n`);
    const r = await runCli(["check", "--campaign-id", "1", "--api-key-file", fifo], {
      env: noKey,
    });
    await writing;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^ok: the API key works and campaign 1 exists/);
  });
});
