/**
 * The Airbyte destination end to end: the real CLI (`airbyte spec|check|write`) against the
 * sandbox over HTTP. Every stdout line must be an Airbyte message we are allowed to write;
 * every STATE must come out verbatim, in order, and only once the sandbox has the leads of
 * the records before it.
 */
import assert from "node:assert/strict";
import { connectorSpecification } from "../lib/airbyte/spec.ts";
import { countRequests, runCli, withSandbox } from "./helpers.ts";
import {
  airbyteMessages,
  catalog,
  emailsIn,
  logs,
  person,
  record,
  runStreaming,
  stateLines,
  streamState,
  writeArgs,
} from "./protocol_helpers.ts";

const dedup = catalog([{ name: "contacts", mode: "append_dedup", primaryKey: [["email"]] }]);

Deno.test("airbyte spec: one SPEC message with the draft-07 connectionSpecification", async () => {
  const r = await runCli(["airbyte", "spec"]);
  assert.equal(r.code, 0, r.stderr);
  const messages = airbyteMessages(r.stdout);
  assert.equal(messages.length, 1);
  const spec = messages[0]!.spec as Record<string, unknown>;
  assert.deepEqual(spec, connectorSpecification());
  assert.deepEqual(spec.supported_destination_sync_modes, ["overwrite", "append_dedup"]);
  const cs = spec.connectionSpecification as {
    $schema: string;
    required: string[];
    properties: Record<string, Record<string, unknown>>;
  };
  assert.equal(cs.$schema, "http://json-schema.org/draft-07/schema#");
  assert.deepEqual(cs.required, ["api_key", "campaign_id"]);
  assert.equal(cs.properties.api_key!.airbyte_secret, true);
  assert.equal(cs.properties.base_url!.airbyte_hidden, true);
  assert.deepEqual(cs.properties.missing!.enum, ["ignore", "pause", "unsubscribe", "delete"]);
  assert.equal(cs.properties.missing!.default, "ignore");
  assert.deepEqual(cs.properties.tags!.anyOf, [
    { type: "array", items: { type: "string" } },
    { type: "string" },
  ]);
  for (const s of ["settings", "batch_size", "email_field", "max_deletes"]) {
    assert.ok(cs.properties[s], s);
  }
  assert.equal(r.stderr, "");
});

Deno.test("airbyte check: exactly one CONNECTION_STATUS, exit 0, naming what is wrong; never writes", async () => {
  await withSandbox({ campaignIds: [1] }, async ({ sb, dir }) => {
    const check = async (config: Record<string, unknown>) => {
      await Deno.writeTextFile(`${dir}/c.json`, JSON.stringify(config));
      const r = await runCli(["airbyte", "check", "--config", `${dir}/c.json`]);
      assert.equal(r.code, 0, r.stderr);
      const m = airbyteMessages(r.stdout);
      assert.equal(m.length, 1, r.stdout);
      assert.equal(m[0]!.type, "CONNECTION_STATUS");
      return m[0]!.connectionStatus as { status: string; message: string };
    };
    const good = { api_key: sb.apiKey, campaign_id: 1, base_url: sb.url };
    assert.deepEqual(await check(good), {
      status: "SUCCEEDED",
      message: 'campaign 1 "Sandbox campaign 1"',
    });
    // A comma-separated tags string is accepted as the original page had it.
    assert.equal((await check({ ...good, tags: "a, b" })).status, "SUCCEEDED");
    const wrongKey = await check({ ...good, api_key: "not-the-key" });
    assert.equal(wrongKey.status, "FAILED");
    assert.match(wrongKey.message, /refused the API key \(HTTP 401/);
    assert.ok(!wrongKey.message.includes("not-the-key"));
    const noCampaign = await check({ ...good, campaign_id: 99 });
    assert.equal(noCampaign.status, "FAILED");
    assert.match(noCampaign.message, /^campaign 99 not found/);
    const badField = await check({ ...good, campaign_id: "abc" });
    assert.equal(badField.status, "FAILED");
    assert.match(badField.message, /campaign_id: expected a campaign id/);
    const missingKey = await check({ campaign_id: 1, base_url: sb.url });
    assert.match(missingKey.message, /api_key: is required/);
    const badMissing = await check({ ...good, missing: "archive" });
    assert.match(badMissing.message, /^config .*: missing: /);
    assert.equal(countRequests(sb).adds, 0);
    assert.equal(sb.state.campaignLeads(1).length, 0);
  });
});

Deno.test("airbyte write: golden stream of STREAM, GLOBAL and LEGACY states, each out verbatim and in order after its records are in Smartlead", async () => {
  await withSandbox({}, async ({ sb, dir }) => {
    const args = await writeArgs(dir, sb, { batch_size: 2, tags: ["airbyte"] }, dedup);
    const input: string[] = [];
    const states: string[] = [];
    // For each state, the emails Smartlead must have when it comes out.
    const mustHave: string[][] = [];
    const sent: string[] = [];
    const add = (line: string, email?: string) => {
      input.push(line);
      if (email) sent.push(email);
    };
    const state = (line: string) => {
      input.push(line);
      states.push(line);
      mustHave.push([...sent]);
    };
    state(streamState("contacts", 0)); // nothing pending: out at once
    for (let i = 1; i <= 3; i++) add(record("contacts", person(i)), `person${i}@example.com`);
    state(streamState("contacts", 3, { sourceStats: { recordCount: 3.0 }, unknown_key: [1] }));
    add(record("contacts", { first_name: "No email" })); // rejected: a warning
    add(record("elsewhere", person(90))); // unknown stream: skipped
    add(record("contacts", person(4, { Email: "ignored" })), "person4@example.com");
    state(JSON.stringify({
      type: "STATE",
      state: {
        type: "GLOBAL",
        global: {
          shared_state: { lsn: 42, "ünïcode": "✓" },
          stream_states: [{ stream_descriptor: { name: "contacts" }, stream_state: { c: 4 } }],
        },
      },
    }));
    for (let i = 5; i <= 7; i++) add(record("contacts", person(i)), `person${i}@example.com`);
    add(record("contacts", person(2, { first_name: "Repeated" })), "person2@example.com");
    state(JSON.stringify({ type: "STATE", state: { type: "LEGACY", data: { contacts: 7 } } }));
    state(JSON.stringify({ type: "STATE", state: { data: { bare: true } } }));
    const seen: string[] = [];
    const r = await runStreaming(args, {
      env: {},
      stdin: input.join("\n") + "\n",
      onLine: (line) => {
        if (JSON.parse(line).type !== "STATE") return;
        const have = emailsIn(sb);
        for (const e of mustHave[seen.length]!) {
          assert.ok(have.has(e), `state ${seen.length} came out before ${e} was in Smartlead`);
        }
        seen.push(line);
      },
    });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    airbyteMessages(r.stdout);
    assert.deepEqual(seen, states);
    assert.deepEqual(stateLines(r.stdout), states);
    const have = sb.state.campaignLeads(1);
    assert.deepEqual(have.map((l) => l.email).sort(), [...new Set(sent)].sort());
    assert.equal(have.find((l) => l.email === "person2@example.com")!.first_name, "Repeated");
    assert.deepEqual(have.find((l) => l.email === "person4@example.com")!.custom_fields, {
      Email: "ignored",
      tags: "airbyte",
    });
    assert.deepEqual(logs(r.stdout, "WARN"), [
      "records of stream elsewhere are skipped: it is not in the configured catalog",
      "input record 4 (stream contacts) not loaded: email is empty",
      "1 records of stream elsewhere skipped: not in the configured catalog",
    ]);
    const info = logs(r.stdout, "INFO");
    assert.ok(
      info.some((l) =>
        l.startsWith(
          "campaign 1 (incremental): 9 records (contacts: 9); added 7, updated 0, unchanged 0, skipped 1 without a valid lead, 1 repeated",
        )
      ),
      info.join("\n"),
    );
    assert.ok(!r.stdout.includes(sb.apiKey) && !r.stderr.includes(sb.apiKey));
  });
});

Deno.test("airbyte write: a state with nothing pending goes out at once; one after records waits for them", async () => {
  await withSandbox({}, async ({ sb, dir }) => {
    const args = await writeArgs(dir, sb, { batch_size: 2, concurrency: 1 }, dedup);
    // The first add is refused with a 10-minute Retry-After: the run waits there.
    sb.addFault({
      method: "POST",
      pathPattern: "/campaigns/1/leads$",
      times: 1,
      fault: { kind: "rate_limit", retryAfter: 600 },
    });
    const first = streamState("contacts", 0);
    const input = [
      first,
      ...[1, 2, 3].map((i) => record("contacts", person(i))),
      streamState("contacts", 3),
    ];
    const r = await runStreaming(args, {
      env: {},
      stdin: input.join("\n") + "\n",
      killWhen: () => sb.requests.some((q) => q.status === 429),
    });
    assert.equal(r.code, 137);
    airbyteMessages(r.stdout);
    assert.deepEqual(stateLines(r.stdout), [first]);
    assert.equal(sb.state.campaignLeads(1).length, 0);
  });
});

Deno.test("airbyte write: a source that pauses gets the states of the records it sent, before it goes on", async () => {
  await withSandbox({}, async ({ sb, dir }) => {
    const args = await writeArgs(dir, sb, { batch_size: 2, concurrency: 1 }, dedup);
    const s2 = streamState("contacts", 2);
    const s3 = streamState("contacts", 3);
    // Two records and a state, then the source goes quiet: it writes the rest only once that
    // state is on stdout (the test would wait forever if the state waited for the end).
    let leadsAtState = -1;
    const r = await runStreaming(args, {
      env: {},
      stdin: [record("contacts", person(1)), record("contacts", person(2)), s2].join("\n") + "\n",
      onLine: (line) => {
        if (line === s2) leadsAtState = sb.state.campaignLeads(1).length;
      },
      pause: {
        then: () =>
          leadsAtState < 0 ? undefined : [record("contacts", person(3)), s3].join("\n") + "\n",
      },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(leadsAtState, 2);
    assert.deepEqual(stateLines(r.stdout), [s2, s3]);
    assert.equal(sb.state.campaignLeads(1).length, 3);
  });
});

Deno.test("airbyte write: kill -9 mid-write, then the same stream: no lead lost or written twice, no state for uncommitted records", async () => {
  await withSandbox({}, async ({ sb, dir }) => {
    const args = await writeArgs(dir, sb, { batch_size: 2, concurrency: 1 }, dedup);
    const input: string[] = [];
    const mustHave: string[][] = [];
    const done: string[] = [];
    for (let i = 1; i <= 8; i++) {
      input.push(record("contacts", person(i)));
      done.push(`person${i}@example.com`);
      if (i % 2 === 0) {
        input.push(streamState("contacts", i));
        mustHave.push([...done]);
      }
    }
    const states = input.filter((l) => l.includes('"STATE"'));
    const checkStates = (seen: string[]) => (line: string) => {
      if (JSON.parse(line).type !== "STATE") return;
      const have = emailsIn(sb);
      for (const e of mustHave[seen.length]!) assert.ok(have.has(e), `state before ${e}`);
      seen.push(line);
    };
    // Two batches go through, the third is held by a 10-minute Retry-After: killed there.
    sb.addFault({
      method: "POST",
      pathPattern: "/campaigns/1/leads$",
      skip: 2,
      times: 1,
      fault: { kind: "rate_limit", retryAfter: 600 },
    });
    const seen1: string[] = [];
    const killed = await runStreaming(args, {
      env: {},
      stdin: input.join("\n") + "\n",
      onLine: checkStates(seen1),
      killWhen: () => sb.requests.some((q) => q.status === 429),
    });
    assert.equal(killed.code, 137);
    airbyteMessages(killed.stdout);
    assert.deepEqual(seen1, states.slice(0, seen1.length));
    assert.equal(sb.state.campaignLeads(1).length, 4);
    const mark = sb.requests.length;
    const seen2: string[] = [];
    const again = await runStreaming(args, {
      env: {},
      stdin: input.join("\n") + "\n",
      onLine: checkStates(seen2),
    });
    assert.equal(again.code, 0, again.stderr + again.stdout);
    assert.deepEqual(seen2, states);
    const leads = sb.state.campaignLeads(1);
    assert.deepEqual(leads.map((l) => l.email).sort(), [...done].sort());
    assert.deepEqual(leads.map((l) => l.writes), leads.map(() => 1));
    const resent = sb.requests.slice(mark).filter((q) => q.method === "POST").flatMap((q) =>
      (q.body as { lead_list: Array<{ email: string }> }).lead_list.map((l) => l.email)
    );
    assert.deepEqual(resent.sort(), done.slice(4).sort());
    assert.ok(logs(again.stdout, "INFO").includes("index rebuilt from campaign 1: 4 leads"));
  });
});

Deno.test("airbyte write: 429 storms and 5xx during the write: every lead once, every state out", async () => {
  await withSandbox({}, async ({ sb, dir }) => {
    const args = await writeArgs(dir, sb, { batch_size: 3, backoff_ms: 1 }, dedup);
    sb.addFault({
      method: "POST",
      pathPattern: "/campaigns/1/leads$",
      times: 4,
      fault: { kind: "rate_limit", retryAfter: 0 },
    });
    sb.addFault({
      method: "POST",
      pathPattern: "/campaigns/1/leads$",
      times: 2,
      fault: { kind: "status", status: 502, when: "after" },
    });
    sb.addFault({
      method: "GET",
      pathPattern: "/campaigns/1/leads$",
      times: 2,
      fault: { kind: "status", status: 503, when: "before" },
    });
    const input: string[] = [];
    for (let i = 1; i <= 9; i++) {
      input.push(record("contacts", person(i)));
      if (i % 3 === 0) input.push(streamState("contacts", i));
    }
    const r = await runStreaming(args, { env: {}, stdin: input.join("\n") + "\n" });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    airbyteMessages(r.stdout);
    assert.equal(stateLines(r.stdout).length, 3);
    const emails = sb.state.campaignLeads(1).map((l) => l.email);
    assert.equal(emails.length, 9);
    assert.equal(new Set(emails).size, 9);
    assert.ok(sb.requests.filter((q) => q.status === 429).length === 4);
    assert.ok(sb.requests.filter((q) => q.status === 502).length === 2);
  });
});

Deno.test("airbyte write: a campaign that already holds leads: unchanged ones are not sent again after the rebuild", async () => {
  await withSandbox({}, async ({ sb, dir }) => {
    // Added by someone else, with the data the records will carry (tags as this config sets).
    sb.state.addLeads(1, [
      { email: "person1@example.com", first_name: "Person 1", custom_fields: { tags: "x,y" } },
      { email: "person2@example.com", first_name: "Person 2", custom_fields: { tags: "x,y" } },
      { email: "person3@example.com", first_name: "Old name", custom_fields: { tags: "x,y" } },
    ], {});
    const args = await writeArgs(dir, sb, { tags: "x, y" }, dedup);
    const input = [1, 2, 3, 4].map((i) => record("contacts", person(i)));
    input.push(streamState("contacts", 4));
    const mark = sb.requests.length;
    const r = await runStreaming(args, { env: {}, stdin: input.join("\n") + "\n" });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal(stateLines(r.stdout).length, 1);
    const posts = sb.requests.slice(mark).filter((q) => q.method === "POST");
    const added = posts.filter((q) => /\/leads$/.test(q.path.split("?")[0]!));
    const updated = posts.filter((q) => /\/leads\/\d+$/.test(q.path.split("?")[0]!));
    assert.deepEqual(
      added.flatMap((q) => (q.body as { lead_list: Array<{ email: string }> }).lead_list)
        .map((l) => l.email),
      ["person4@example.com"],
    );
    assert.equal(updated.length, 1);
    assert.equal((updated[0]!.body as { email: string }).email, "person3@example.com");
    const leads = sb.state.campaignLeads(1);
    assert.deepEqual(leads.map((l) => [l.email, l.writes]), [
      ["person1@example.com", 1],
      ["person2@example.com", 1],
      ["person3@example.com", 2],
      ["person4@example.com", 1],
    ]);
    assert.ok(logs(r.stdout, "INFO").some((l) => /added 1, updated 1, unchanged 2/.test(l)));
  });
});

Deno.test("airbyte write: append, update and soft_delete are a TRACE config error naming the mode; nothing is sent", async () => {
  await withSandbox({}, async ({ sb, dir }) => {
    for (const mode of ["append", "update", "soft_delete"]) {
      const args = await writeArgs(dir, sb, {}, catalog([{ name: "contacts", mode }]));
      const r = await runCli(args, { stdin: record("contacts", person(1)) + "\n" });
      assert.equal(r.code, 2, r.stderr);
      const m = airbyteMessages(r.stdout);
      assert.equal(m.length, 1);
      const trace = m[0]!.trace as { type: string; error: Record<string, unknown> };
      assert.equal(trace.type, "ERROR");
      assert.equal(trace.error.failure_type, "config_error");
      assert.match(
        String(trace.error.message),
        new RegExp(`^stream contacts: destination sync mode "${mode}" is not supported`),
      );
      assert.match(r.stderr, /^error: stream contacts: destination sync mode/);
    }
    assert.equal(sb.requests.length, 0);
  });
});

Deno.test("airbyte write: overwrite (or a truncating generation) is a full refresh; missing=delete removes absent leads; missing=pause pauses them", async () => {
  await withSandbox({}, async ({ sb, dir }) => {
    const three = [1, 2, 3].map((i) => record("contacts", person(i))).join("\n") + "\n";
    const first = await runCli(await writeArgs(dir, sb, {}, dedup), { stdin: three });
    assert.equal(first.code, 0, first.stdout);
    // A truncating refresh of an append_dedup stream (minimum_generation_id = generation_id).
    const refresh = catalog([{ name: "contacts", mode: "append_dedup", generation: [2, 2] }]);
    const args = await writeArgs(dir, sb, { missing: "delete", max_deletes: "1" }, refresh);
    const two = [1, 2].map((i) => record("contacts", person(i))).join("\n") + "\n";
    const r = await runCli(args, { stdin: two + streamState("contacts", 2) + "\n" });
    assert.equal(r.code, 0, r.stdout);
    assert.equal(stateLines(r.stdout).length, 1);
    assert.deepEqual([...emailsIn(sb)].sort(), ["person1@example.com", "person2@example.com"]);
    assert.ok(
      logs(r.stdout, "INFO").some((l) =>
        /full-refresh.*added 0, updated 2.*removed 1 missing/.test(l)
      ),
    );
    // Over max_deletes: a config error before any write.
    const over = await runCli(
      await writeArgs(dir, sb, { missing: "delete", max_deletes: "0" }, refresh),
      { stdin: record("contacts", person(1)) + "\n" },
    );
    assert.equal(over.code, 8);
    const trace = airbyteMessages(over.stdout).find((m) => m.type === "TRACE")!;
    assert.equal(
      (trace.trace as { error: { failure_type: string } }).error.failure_type,
      "config_error",
    );
    assert.equal(emailsIn(sb).size, 2);
    // Without removal, an overwrite whose records are all invalid sends nothing and succeeds.
    const empty = await runCli(
      await writeArgs(dir, sb, {}, catalog([{ name: "contacts", mode: "overwrite" }])),
      { stdin: record("contacts", { name: "x" }) + "\n" + streamState("contacts", 1) + "\n" },
    );
    assert.equal(empty.code, 0, empty.stdout);
    assert.equal(stateLines(empty.stdout).length, 1);
    assert.equal(emailsIn(sb).size, 2);
    // missing=pause: the lead a full refresh no longer has is paused, not deleted (history kept).
    const paused = await runCli(
      await writeArgs(
        dir,
        sb,
        { missing: "pause", max_deletes: "1" },
        catalog([{ name: "contacts", mode: "overwrite" }]),
      ),
      { stdin: record("contacts", person(1)) + "\n" + streamState("contacts", 1) + "\n" },
    );
    assert.equal(paused.code, 0, paused.stdout);
    assert.equal(stateLines(paused.stdout).length, 1);
    const status = (email: string) => {
      const lead = sb.state.campaignLeads(1).find((l) => l.email === email)!;
      return sb.state.statusOf(1, lead.id);
    };
    assert.deepEqual([...emailsIn(sb)].sort(), ["person1@example.com", "person2@example.com"]);
    assert.equal(status("person2@example.com"), "PAUSED");
    assert.notEqual(status("person1@example.com"), "PAUSED");
  });
});

Deno.test("airbyte write: fatal errors are one TRACE ERROR with its failure type and a non-zero exit; stdout stays protocol-only", async () => {
  await withSandbox({}, async ({ sb, dir }) => {
    const failure = (r: { stdout: string }) => {
      const traces = airbyteMessages(r.stdout).filter((m) => m.type === "TRACE");
      assert.equal(traces.length, 1, r.stdout);
      return (traces[0]!.trace as { error: { failure_type: string; message: string } }).error;
    };
    const wrongKey = await runCli(
      await writeArgs(dir, sb, { api_key: "wrong-key-123" }, dedup),
      { stdin: record("contacts", person(1)) + "\n" },
    );
    assert.equal(wrongKey.code, 3);
    assert.equal(failure(wrongKey).failure_type, "config_error");
    assert.ok(!wrongKey.stdout.includes("wrong-key-123"));
    const garbage = await runCli(await writeArgs(dir, sb, {}, dedup), {
      stdin: record("contacts", person(1)) + "\nnot json\n" + streamState("contacts", 1) + "\n",
    });
    assert.equal(garbage.code, 2);
    assert.deepEqual(failure(garbage), {
      failure_type: "system_error",
      message:
        "stdin: line 2: not a JSON message — the input must be protocol messages, one JSON object per line",
      internal_message: "ProtocolInputError: stdin: line 2: not a JSON message",
    });
    assert.deepEqual(stateLines(garbage.stdout), []);
    assert.equal(sb.state.campaignLeads(1).length, 0);
    // --json belongs to the other commands: never a JSON object of ours on stdout here.
    const json = await runCli(["airbyte", "spec", "--json"]);
    assert.equal(json.code, 2);
    assert.equal(json.stdout, "");
  });
});
