/**
 * The Singer target end to end: the real CLI (`singer`, the `target-smartlead` wrapper and
 * the SMARTLEAD_SYNC_ENTRY switch) against the sandbox over HTTP.
 */
import assert from "node:assert/strict";
import { aboutInfo } from "../lib/singer/about.ts";
import { VERSION } from "../lib/version.ts";
import { cliArgs, countRequests, runCli, withSandbox } from "./helpers.ts";
import { emailsIn, runStreaming } from "./protocol_helpers.ts";

const ROOT = new URL("..", import.meta.url).pathname;

const msg = (m: Record<string, unknown>) => JSON.stringify(m);
const schema = (stream: string, key: string[], props: Record<string, unknown>) =>
  msg({
    type: "SCHEMA",
    stream,
    schema: { type: "object", properties: props },
    key_properties: key,
  });
const rec = (stream: string, record: Record<string, unknown>) =>
  msg({ type: "RECORD", stream, record, time_extracted: "2026-01-01T00:00:00Z" });
const state = (value: unknown) => msg({ type: "STATE", value });

async function configFile(dir: string, sb: { url: string; apiKey: string }, extra = {}) {
  const path = `${dir}/target.json`;
  await Deno.writeTextFile(
    path,
    JSON.stringify({ api_key: sb.apiKey, campaign_id: 1, base_url: sb.url, ...extra }),
  );
  return path;
}

Deno.test("singer: a tap-like stream is loaded; each state value goes to stdout after its records; a rerun sends nothing", async () => {
  await withSandbox({}, async ({ sb, dir }) => {
    const project = `${dir}/project`;
    await Deno.mkdir(project);
    const config = await configFile(dir, sb, { tags: ["meltano"], batch_size: 2 });
    // A second file overrides the first, key by key.
    await Deno.writeTextFile(`${dir}/more.json`, JSON.stringify({ batch_size: 3 }));
    const users = { id: { type: "integer" }, work_email: { type: "string", format: "email" } };
    const values = [
      { bookmarks: { users: { replication_key_value: 2 } } },
      { bookmarks: { users: { replication_key_value: 3 }, contacts: { v: "ä" } } },
      { currently_syncing: null, bookmarks: {} },
    ];
    const input = [
      schema("users", ["id"], users),
      rec("users", { id: 1, work_email: "Linus@Example.com", name: "Linus" }),
      rec("users", { id: 2, work_email: "margaret@example.com", first_name: "Margaret" }),
      state(values[0]),
      schema("contacts", ["work_email"], { work_email: { type: "string" } }),
      rec("contacts", { work_email: "grace@example.com", email: "other@example.com" }),
      rec("users", { id: 3, work_email: "" }),
      state(values[1]),
      msg({ type: "ACTIVATE_VERSION", stream: "users", version: 1 }),
      state(values[2]),
    ].join("\n") + "\n";
    const mustHave = [
      ["linus@example.com", "margaret@example.com"],
      ["linus@example.com", "margaret@example.com", "grace@example.com"],
      ["linus@example.com", "margaret@example.com", "grace@example.com"],
    ];
    let seen = 0;
    const args = ["singer", "--config", config, "--config", `${dir}/more.json`];
    const r = await runStreaming(args, {
      env: { MELTANO_PROJECT_ROOT: project },
      stdin: input,
      onLine: (line) => {
        const have = emailsIn(sb);
        for (const e of mustHave[seen]!) assert.ok(have.has(e), `${line} before ${e}`);
        seen++;
      },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n").map((l) => JSON.parse(l)), values);
    const leads = sb.state.campaignLeads(1);
    assert.deepEqual(leads.map((l) => l.email), [
      "linus@example.com",
      "margaret@example.com",
      "grace@example.com",
    ]);
    assert.deepEqual(leads[2]!.custom_fields, { email: "other@example.com", tags: "meltano" });
    assert.deepEqual(leads[0]!.custom_fields, { id: "1", name: "Linus", tags: "meltano" });
    assert.match(
      r.stderr,
      /^stream users: email from the field named like an email \(the key "id" is not one; set email_field to choose\)$/m,
    );
    assert.match(r.stderr, /^stream contacts: email from "work_email" \(the stream's key\)$/m);
    assert.match(
      r.stderr,
      /^warning: input record 4 \(stream users\) not loaded: email is empty$/m,
    );
    assert.match(r.stderr, /added 3, updated 0, unchanged 0, skipped 1 without a valid lead/);
    // The index lives in the Meltano project.
    const files = (await Array.fromAsync(Deno.readDir(`${project}/.meltano/run/target-smartlead`)))
      .map((e) => e.name);
    assert.ok(files.some((f) => f.endsWith(".db")), files.join());
    const mark = countRequests(sb);
    const again = await runCli(args, { env: { MELTANO_PROJECT_ROOT: project }, stdin: input });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(countRequests(sb).adds, mark.adds);
    assert.match(again.stderr, /added 0, updated 0, unchanged 3/);
    assert.equal(again.stdout, r.stdout);
  });
});

Deno.test("singer --about --format json|markdown, --version", async () => {
  const json = await runCli(["singer", "--about", "--format=json"]);
  assert.equal(json.code, 0, json.stderr);
  const about = JSON.parse(json.stdout) as {
    name: string;
    capabilities: string[];
    settings: { required: string[]; properties: Record<string, Record<string, unknown>> };
  };
  assert.deepEqual(about, aboutInfo());
  assert.equal(about.name, "target-smartlead");
  assert.deepEqual(about.capabilities, ["about", "activate-version"]);
  const props = about.settings.properties as Record<string, Record<string, unknown>>;
  assert.deepEqual(props.load_method!.enum, ["upsert", "overwrite", "append-only"]);
  assert.equal(props.api_key!.secret, true);
  assert.equal(props.api_key!.airbyte_secret, undefined);
  assert.deepEqual(about.settings.required, ["api_key", "campaign_id"]);
  const md = await runCli(["singer", "--about", "--format", "markdown"]);
  assert.equal(md.code, 0);
  assert.match(md.stdout, /^# `target-smartlead`/);
  assert.match(md.stdout, /^\| api_key \| True \| None \| /m);
  assert.match(md.stdout, /^\| load_method \| False \| upsert \| /m);
  const version = await runCli(["singer", "--version"]);
  assert.equal(version.stdout, `${VERSION}\n`);
});

Deno.test("singer: the messages `meltano config test` sends pass (a record without an email is a warning) and write nothing", async () => {
  await withSandbox({}, async ({ sb, dir }) => {
    // What meltano's LoaderTestService writes (with activate-version advertised).
    const input = [
      msg({
        type: "SCHEMA",
        stream: "meltano_test_stream",
        schema: {
          type: "object",
          properties: {
            id: { type: "integer" },
            name: { type: "string" },
            created_at: { type: "string", format: "date-time" },
          },
        },
        key_properties: ["id"],
      }),
      rec("meltano_test_stream", {
        id: 1,
        name: "Meltano Test Record",
        created_at: "2025-09-29T00:00:00Z",
      }),
      state({ bookmarks: { meltano_test_stream: { last_record: 1 } } }),
      msg({ type: "ACTIVATE_VERSION", stream: "meltano_test_stream", version: 1 }),
    ].join("\n") + "\n";
    await Deno.writeTextFile(`${dir}/messages.jsonl`, input);
    for (const extra of [{}, { load_method: "overwrite" }]) {
      const config = await configFile(dir, sb, extra);
      // Once from stdin, once from --input (stdin then stays unread).
      const r = "load_method" in extra
        ? await runCli(["singer", "--config", config, "--input", `${dir}/messages.jsonl`], {
          stdin: "not a message\n",
          cwd: dir,
        })
        : await runCli(["singer", "--config", config], { stdin: input, cwd: dir });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, '{"bookmarks":{"meltano_test_stream":{"last_record":1}}}\n');
      // Meltano reads stdout and stderr together and fails on "error" or "exception".
      assert.doesNotMatch(r.stdout + r.stderr, /error|exception/i);
      assert.match(
        r.stderr,
        /^warning: input record 1 \(stream meltano_test_stream\) not loaded: no email field$/m,
      );
    }
    assert.equal(countRequests(sb).adds, 0);
  });
});

Deno.test("singer: RECORD before its SCHEMA, BATCH and load_method append-only are fatal, naming the cause", async () => {
  await withSandbox({}, async ({ sb, dir }) => {
    const config = await configFile(dir, sb);
    const early = await runCli(["singer", "--config", config], {
      stdin: rec("users", { email: "a@example.com" }) + "\n",
      cwd: dir,
    });
    assert.equal(early.code, 2);
    assert.equal(
      early.stderr,
      'error: stdin: line 1: a RECORD for stream "users" before its SCHEMA — the tap must send a SCHEMA message before the stream\'s records\n',
    );
    assert.equal(early.stdout, "");
    const batch = await runCli(["singer", "--config", config], {
      stdin: msg({ type: "BATCH", stream: "users", encoding: {}, manifest: [] }) + "\n",
      cwd: dir,
    });
    assert.equal(batch.code, 2);
    assert.match(batch.stderr, /^error: stdin: line 1: BATCH messages are not supported/);
    const append = await runCli(
      ["singer", "--config", await configFile(dir, sb, { load_method: "append-only" })],
      { stdin: "", cwd: dir },
    );
    assert.equal(append.code, 2);
    assert.match(
      append.stderr,
      /load_method "append-only" is not possible: Smartlead keeps one lead per email/,
    );
    assert.equal(sb.requests.length, 0);
  });
});

Deno.test("singer: removal of missing leads follows load_method overwrite, or ACTIVATE_VERSION before the records", async () => {
  await withSandbox({}, async ({ sb, dir }) => {
    const s = schema("people", ["email"], { email: { type: "string" } });
    const people = (n: number) =>
      Array.from({ length: n }, (_, i) => rec("people", { email: `p${i + 1}@example.com` }));
    const run = async (extra: Record<string, unknown>, lines: string[]) => {
      const r = await runCli(["singer", "--config", await configFile(dir, sb, extra)], {
        stdin: lines.join("\n") + "\n",
        env: { MELTANO_PROJECT_ROOT: dir },
      });
      assert.equal(r.code, 0, r.stderr);
      return r;
    };
    await run({}, [s, ...people(5)]);
    assert.equal(emailsIn(sb).size, 5);
    // upsert: ACTIVATE_VERSION after the records does not remove.
    const av = msg({ type: "ACTIVATE_VERSION", stream: "people", version: 2 });
    await run({ missing: "delete", max_deletes: "50%" }, [s, ...people(4), av]);
    assert.equal(emailsIn(sb).size, 5);
    // upsert: a full-table pass announced before its records removes what it lacks.
    await run({ missing: "delete", max_deletes: "50%" }, [s, av, ...people(4), av]);
    assert.deepEqual(
      [...emailsIn(sb)].sort(),
      ["p1", "p2", "p3", "p4"].map((p) => `${p}@example.com`),
    );
    // overwrite: every run is a full pass.
    const r = await run({ load_method: "overwrite", missing: "delete", max_deletes: "50%" }, [
      s,
      ...people(3),
    ]);
    assert.equal(emailsIn(sb).size, 3);
    assert.match(r.stderr, /\(full-refresh\).*removed 1 missing/);
  });
});

Deno.test("target-smartlead wrapper and SMARTLEAD_SYNC_ENTRY=singer run the target without a subcommand", async () => {
  await withSandbox({}, async ({ dir }) => {
    // A smartlead-sync on PATH that runs the CLI under test.
    const bin = `${dir}/bin`;
    await Deno.mkdir(bin);
    const quoted = [Deno.execPath(), ...cliArgs([])].map((a) => `'${a}'`).join(" ");
    await Deno.writeTextFile(`${bin}/smartlead-sync`, `#!/bin/sh\nexec ${quoted} "$@"\n`);
    await Deno.chmod(`${bin}/smartlead-sync`, 0o755);
    const wrapper = await new Deno.Command(`${ROOT}bin/target-smartlead`, {
      args: ["--about", "--format=json"],
      env: { PATH: `${bin}:${Deno.env.get("PATH")}` },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(wrapper.code, 0, new TextDecoder().decode(wrapper.stderr));
    assert.deepEqual(JSON.parse(new TextDecoder().decode(wrapper.stdout)), aboutInfo());
    const viaEnv = await runCli(["--about", "--format=json"], {
      env: { SMARTLEAD_SYNC_ENTRY: "singer" },
    });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    assert.deepEqual(JSON.parse(viaEnv.stdout), aboutInfo());
  });
});
