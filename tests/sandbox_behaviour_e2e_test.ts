/**
 * The sandbox's behaviours where real answers vary (lib/sandbox/behaviour.ts), over real
 * HTTP: answer shapes, the id map, `ok:false` updates, stale ids, the custom-field cap,
 * re-adds overwriting and `""` clearing, and the controls; then the `sandbox` command's
 * flags with the real CLI pushing into it.
 */
import assert from "node:assert/strict";
import { type Sandbox, startSandbox } from "../lib/sandbox/server.ts";
import { runCli, sandboxCli, summaryOf, tempDir } from "./helpers.ts";

async function call(sb: Sandbox, method: string, path: string, body?: unknown) {
  const sep = path.includes("?") ? "&" : "?";
  const res = await fetch(`${sb.url}${path}${sep}api_key=${sb.apiKey}`, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // text
  }
  return { status: res.status, body: json };
}

const control = (sb: Sandbox, what: string, body: unknown) =>
  fetch(new URL(`/__sandbox/${what}`, sb.url), { method: "POST", body: JSON.stringify(body) });

Deno.test("sandbox behaviours: answer shapes, id map, ok:false, stale ids, cap, clearing, controls", async () => {
  const sb = await startSandbox({});
  try {
    sb.state.unsubscribed.add("u@ex.com");
    const add = (emails: string[], extra: Record<string, unknown> = {}) =>
      call(sb, "POST", "/campaigns/1/leads", {
        lead_list: emails.map((email) => ({ email, ...extra })),
        settings: { return_lead_ids: true },
      });
    const live = await add(["a@ex.com", "u@ex.com"]);
    assert.equal((live.body as Record<string, unknown>).total_leads, 1);
    assert.ok("emailToLeadIdMap" in (live.body as object));

    sb.setBehaviour({ addAnswer: "old-docs", idMap: false });
    const old = (await add(["b@ex.com", "u@ex.com"])).body as Record<string, unknown>;
    assert.deepEqual(
      [old.total_leads, old.upload_count, old.unsubscribed_leads, "invalid_emails" in old],
      ["1", "2", 1, false],
    );
    assert.equal("emailToLeadIdMap" in old, false);
    for (
      const [shape, expected] of [
        ["sparse", { ok: true, upload_count: 1, total_leads: 1 }],
        ["empty", {}],
        ["ok", { ok: true }],
      ] as const
    ) {
      const r = await control(sb, "behaviour", { addAnswer: shape });
      assert.equal(r.status, 200);
      await r.body?.cancel();
      assert.deepEqual((await add([`${shape}@ex.com`])).body, expected);
    }
    assert.equal(sb.state.campaignLeads(1).length, 5); // every shape applied the write

    // Re-adding overwrites; "" clears a field or a custom field.
    sb.setBehaviour({ addAnswer: "live" });
    await add(["a@ex.com"], { first_name: "A", custom_fields: { T: "x", U: "y" } });
    await add(["a@ex.com"], { first_name: "", custom_fields: { T: "" } });
    const a = sb.state.leads.get("a@ex.com")!;
    assert.deepEqual([a.first_name, a.custom_fields, a.writes], [undefined, { U: "y" }, 3]);

    // Updates that say ok:false apply nothing; stale ids answer as configured.
    const id = a.id;
    sb.setBehaviour({ updateAnswer: "ok-false" });
    assert.deepEqual(
      await call(sb, "POST", `/campaigns/1/leads/${id}`, { email: "a@ex.com", first_name: "Z" }),
      { status: 200, body: { ok: false } },
    );
    assert.equal(sb.state.leads.get("a@ex.com")!.first_name, undefined);
    const removed = await control(sb, "remove-lead", { email: "a@ex.com" });
    assert.equal(removed.status, 204);
    for (
      const [staleId, status, body] of [
        ["404", 404, { error: "Lead not found" }],
        ["404-bare", 404, { ok: false, error: "Invalid request!" }],
        ["500", 500, { error: "Invalid lead id" }],
      ] as const
    ) {
      sb.setBehaviour({ staleId });
      assert.deepEqual(await call(sb, "POST", `/campaigns/1/leads/${id}`, { email: "a@ex.com" }), {
        status,
        body,
      });
      assert.deepEqual(await call(sb, "DELETE", `/campaigns/1/leads/${id}`), { status, body });
    }
    // The custom-field cap names the lead.
    sb.setBehaviour({ maxCustomFields: 1 });
    assert.deepEqual(await add(["c@ex.com", "d@ex.com"], { custom_fields: { X: "1", Y: "2" } }), {
      status: 400,
      body: {
        statusCode: 400,
        error: "Bad Request",
        message: '"lead_list[0].custom_fields" must have less than or equal to 1 keys',
        validation: { source: "body", keys: ["lead_list[0].custom_fields"] },
      },
    });
    // Controls refuse what they do not know.
    const bad = await control(sb, "behaviour", { addAnswer: "xml" });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { message: string }).message, /^behaviour\.addAnswer: /);
    const unknown = await control(sb, "remove-lead", { email: "nobody@ex.com" });
    assert.equal(unknown.status, 404);
    await unknown.body?.cancel();
  } finally {
    await sb.close();
  }
});

Deno.test("the sandbox command's behaviour flags, with the real CLI pushing into it and a lead removed through the control", async () => {
  const sandbox = await sandboxCli([
    "--add-answer",
    "empty",
    "--no-id-map",
    "--stale-id",
    "500",
    "--max-custom-fields",
    "2",
  ]);
  const { url, api_key } = sandbox.info;
  const dir = await tempDir();
  try {
    const env = { SMARTLEAD_BASE_URL: url, SMARTLEAD_API_KEY: api_key, XDG_STATE_HOME: dir };
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, "email,first_name,A,B,C\na@ex.com,A,1,,\nb@ex.com,B,1,2,3\n");
    const rejects = `${dir}/rejects.ndjson`;
    const r1 = await runCli(
      ["push", csv, "--campaign-id", "1", "--rejects", rejects, "--json"],
      { env },
    );
    assert.equal(r1.code, 0, r1.stderr);
    // b has three custom fields (cap 2): named by the 400; a's answer is {}: confirmed.
    assert.deepEqual(
      [summaryOf(r1).added, summaryOf(r1).rejected_by_smartlead, summaryOf(r1).confirmed],
      [1, 1, 1],
    );
    const removed = await fetch(new URL("/__sandbox/remove-lead", url), {
      method: "POST",
      body: JSON.stringify({ email: "a@ex.com" }),
    });
    assert.equal(removed.status, 204);
    await Deno.writeTextFile(csv, "email,first_name,A,B,C\na@ex.com,A2,1,,\nb@ex.com,B,1,2,3\n");
    const r2 = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
    assert.equal(r2.code, 0, r2.stderr);
    const s2 = summaryOf(r2);
    assert.deepEqual([s2.stale_ids, s2.added, s2.retries, s2.skipped_rejected], [1, 1, 0, 1]);
    const state = await (await fetch(new URL("/__sandbox/state", url))).json();
    assert.deepEqual(
      state.campaigns[0].leads.map((l: { email: string; first_name: string }) => [
        l.email,
        l.first_name,
      ]),
      [["a@ex.com", "A2"]],
    );
  } finally {
    await sandbox.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
