/**
 * `--json` reports every outcome: exactly one object on stdout for exits 0, 1, 2, 3, 4, 5
 * (at the campaign check too), 6, 7 and 130, from every command, with exit_code, error,
 * hint, version, started_at and finished_at.
 */
import assert from "node:assert/strict";
import { main } from "../cli.ts";
import type { Output } from "../lib/output.ts";
import { cliArgs, type CliResult, outcomeOf, runCli, TESTDATA, withSandbox } from "./helpers.ts";

const messy = `${TESTDATA}/messy.csv`;

/** The keys the push summary had before --json reported every exit; it keeps them all. */
const SUMMARY_KEYS = [
  "campaign_id",
  "mode",
  "dry_run",
  "rows",
  "valid",
  "rejected",
  "duplicates_in_input",
  "added",
  "updated",
  "unchanged",
  "skipped_rejected",
  "deleted",
  "failed",
  "rejected_by_smartlead",
  "requests",
  "retries",
  "rate_limit_wait_ms",
  "smartlead",
  "planned",
  "rejects_file",
  "index",
  "duration_ms",
  "exit_code",
];

Deno.test("push --json: one object for exits 0, 2, 3, 4, 5 (campaign check and mid-run) and 6", async () => {
  await withSandbox({ campaignIds: [1, 2, 3] }, async ({ sb, dir, env }) => {
    const push = (args: string[], e = env) => runCli(["push", ...args, "--json"], { env: e });

    // 0: the summary keeps its keys and gains the ending fields.
    const ok = await push([messy, "--campaign-id", "1"]);
    assert.equal(ok.code, 0, ok.stderr);
    const s = outcomeOf(ok, "push");
    for (const k of SUMMARY_KEYS) assert.ok(k in s, k);
    assert.deepEqual([s.added, s.inputs, s.error, s.hint], [3, [messy], null, null]);
    assert.equal(ok.stderr, "");

    // 2: commander's own misuse, a bad value, a missing file, an input without an email column.
    const bogus = outcomeOf(await push([messy, "--bogus"]), "push");
    assert.deepEqual([bogus.exit_code, bogus.error], [2, "unknown option '--bogus'"]);
    const zero = outcomeOf(await push([messy, "--campaign-id", "1", "--batch-size", "0"]), "push");
    assert.deepEqual([zero.exit_code, zero.inputs], [2, [messy]]);
    assert.match(String(zero.error), /^--batch-size "0": expected a whole number from 1 to 400$/);
    const missing = outcomeOf(await push([`${dir}/nope.csv`, "--campaign-id", "1"]), "push");
    assert.deepEqual(
      [missing.exit_code, missing.error, missing.campaign_id, missing.inputs],
      [2, `cannot read ${dir}/nope.csv: no such file`, 1, [`${dir}/nope.csv`]],
    );
    await Deno.writeTextFile(`${dir}/noemail.csv`, "name,company\nAnn,Acme\n");
    const noEmail = outcomeOf(await push([`${dir}/noemail.csv`, "--campaign-id", "1"]), "push");
    assert.equal(noEmail.exit_code, 2);
    assert.match(String(noEmail.error), /noemail\.csv: line 1: no email column/);

    // 3 and 4, at the campaign check.
    const key = outcomeOf(
      await push([messy, "--campaign-id", "1"], { ...env, SMARTLEAD_API_KEY: "wrong-key-123" }),
      "push",
    );
    assert.deepEqual([key.exit_code, key.campaign_id, key.inputs], [3, 1, [messy]]);
    assert.match(String(key.error), /^Smartlead refused the API key \(HTTP 401/);
    const campaign = outcomeOf(await push([messy, "--campaign-id", "999"]), "push");
    assert.deepEqual([campaign.exit_code, campaign.error], [4, "campaign 999 not found"]);

    // 5 at the campaign check: the common case (Smartlead down before anything was done).
    sb.addFault({
      method: "GET",
      pathPattern: "/campaigns/2",
      times: 2,
      fault: { kind: "status", status: 503, when: "before" },
    });
    const down = outcomeOf(
      await push([messy, "--campaign-id", "2", "--max-attempts", "2", "--backoff-ms", "0"]),
      "push",
    );
    assert.equal(down.exit_code, 5);
    assert.match(
      String(down.error),
      /^Smartlead is unavailable: GET \/campaigns\/2 failed 2 times/,
    );
    assert.deepEqual(sb.state.campaignLeads(2), []);

    // 5 mid-run: the summary of what was done, with the ending fields.
    sb.addFault({
      method: "POST",
      pathPattern: "/campaigns/2/leads",
      times: 2,
      fault: { kind: "status", status: 503, when: "before" },
    });
    const midRun = outcomeOf(
      await push([messy, "--campaign-id", "2", "--max-attempts", "2", "--backoff-ms", "0"]),
      "push",
    );
    assert.deepEqual([midRun.exit_code, midRun.rows, midRun.failed, midRun.added], [5, 6, 3, 0]);

    // 6: credits run out.
    sb.setCredits(1);
    await Deno.writeTextFile(`${dir}/new.csv`, "email\nc1@ex.com\nc2@ex.com\nc3@ex.com\n");
    const credits = outcomeOf(await push([`${dir}/new.csv`, "--campaign-id", "3"]), "push");
    assert.equal(credits.exit_code, 6);
    assert.equal(credits.added, 1);
    sb.setCredits(null);
  });
});

Deno.test("push --json: exit 7 on a locked index, at once and without a request, even with the key's budget spent", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const args = ["push", messy, "--campaign-id", "1"];
    // The first run holds the lock while it waits out a 10-minute Retry-After.
    sb.addFault({
      method: "POST",
      pathPattern: "/campaigns/1/leads",
      times: 1,
      fault: { kind: "rate_limit", retryAfter: 600 },
    });
    let release = false;
    const first = runCli(args, { env, kill: { when: () => release } });
    await until(() => sb.requests.some((r) => r.status === 429));
    // Every request with this key is now refused (Retry-After 1 s): the budget is spent.
    sb.setRate({ requests: 0, windowMs: 60_000 });
    const mark = sb.requests.length;
    const second = await runCli([...args, "--json", "--rejects", `${dir}/rejects.ndjson`], {
      env,
    });
    assert.equal(second.code, 7, second.stderr);
    const o = outcomeOf(second, "push");
    assert.match(String(o.error), /^the index .* is locked by another run \(pid \d+ on /);
    assert.deepEqual([o.campaign_id, o.inputs], [1, [messy]]);
    assert.equal(sb.requests.length, mark); // not a single request
    release = true;
    assert.equal((await first).code, 137);
    sb.setRate(null);
  });
});

Deno.test("push --json: exit 130 on SIGINT reports the summary of what was done", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    // The run reads stdin that the test holds open: it has the lock and the campaign, and
    // waits for rows; SIGINT arrives then, and the rows after it.
    const child = new Deno.Command(Deno.execPath(), {
      args: cliArgs(["push", "-", "--campaign-id", "1", "--json"]),
      clearEnv: true,
      env: { NO_COLOR: "1", PATH: Deno.env.get("PATH") ?? "", ...denoDir(), ...env },
      cwd: dir,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stdout = new Response(child.stdout).text();
    const errs = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let stderr = "";
    await until(() => sb.requests.length === 1); // the campaign check
    child.kill("SIGINT");
    while (!stderr.includes("SIGINT: finishing the batches in flight")) {
      const r = await errs.read();
      if (r.done) break;
      stderr += r.value;
    }
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode("email\na@ex.com\nb@ex.com\n"));
    await w.close();
    for (let r = await errs.read(); !r.done; r = await errs.read()) stderr += r.value;
    const { code } = await child.status;
    const result: CliResult = { code, stdout: await stdout, stderr };
    assert.equal(code, 130, stderr);
    const o = outcomeOf(result, "push");
    assert.match(String(o.error), /^stopped by SIGINT: /);
    assert.deepEqual([o.rows, o.added, o.inputs], [2, 0, ["-"]]);
    assert.deepEqual(sb.state.campaignLeads(1), []);
  });
});

Deno.test("an internal error (exit 1) is one JSON object too", async () => {
  await withSandbox({}, async ({ sb, dir }) => {
    const out: string[] = [];
    const err: string[] = [];
    const output: Output = {
      out: (t) => void out.push(t),
      err: (t) => void err.push(t),
      errIsTty: false,
      color: false,
    };
    // stdin that fails with a plain Error: nothing in the pipeline expects that.
    const stdin = new ReadableStream<Uint8Array>({
      pull(c) {
        c.error(new Error("the pipe broke"));
      },
    });
    const args = ["push", "-", "--campaign-id", "1", "--base-url", sb.url, "--json"];
    const code = await main(
      [...args, "--api-key", sb.apiKey, "--state", `${dir}/state`],
      output,
      stdin,
    );
    assert.equal(code, 1);
    const r: CliResult = { code, stdout: out.join(""), stderr: err.join("") };
    const o = outcomeOf(r, "push");
    assert.deepEqual([o.error, o.hint], [
      "internal error: the pipe broke",
      "run again with --debug and report it",
    ]);
    assert.ok(!r.stdout.includes(sb.apiKey));
  });
});

Deno.test("check, state, verify, mapping, init and sandbox: one JSON object for every exit", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const run = (args: string[], e = env) => runCli([...args, "--json"], { env: e });
    const check = outcomeOf(await run(["check", "--campaign-id", "1"]), "check");
    assert.deepEqual([check.ok, check.campaign_id, check.base_url], [true, 1, sb.url]);
    const badKey = outcomeOf(
      await run(["check", "--campaign-id", "1"], { ...env, SMARTLEAD_API_KEY: "wrong-key-123" }),
      "check",
    );
    assert.deepEqual([badKey.exit_code, badKey.ok, badKey.campaign_id], [3, false, 1]);

    const noIndex = outcomeOf(await run(["state", "--campaign-id", "1"]), "state");
    assert.equal(noIndex.exit_code, 2);
    assert.match(String(noIndex.error), /^no index at .*-campaign-1\.db yet$/);
    const mark = sb.requests.length;
    const verifyNone = outcomeOf(await run(["verify", "--campaign-id", "1"]), "verify");
    assert.equal(verifyNone.exit_code, 2);
    assert.equal(sb.requests.length, mark); // verify looked for the index before the network

    assert.equal((await runCli(["push", messy, "--campaign-id", "1"], { env })).code, 0);
    const state = outcomeOf(await run(["state", "--campaign-id", "1"]), "state");
    assert.deepEqual(state.leads, { synced: 3, rejected: 0, pending: 0 });
    const verify = outcomeOf(await run(["verify", "--campaign-id", "1"]), "verify");
    assert.deepEqual([verify.in_smartlead, verify.in_index], [3, 3]);

    const mapping = outcomeOf(await run(["mapping", messy]), "mapping");
    assert.equal((mapping.columns as unknown[]).length, 9);
    await Deno.writeTextFile(`${dir}/noemail.csv`, "name,company\nAnn,Acme\n");
    const noEmail = outcomeOf(await run(["mapping", `${dir}/noemail.csv`]), "mapping");
    assert.equal(noEmail.exit_code, 2);
    assert.deepEqual(noEmail.columns, [
      { column: "name", target: { kind: "custom", key: "name" }, how: "custom" },
      { column: "company", target: { kind: "field", field: "company_name" }, how: "auto" },
    ]);

    const init = outcomeOf(await run(["init"]), "init");
    assert.deepEqual([init.exit_code, init.error], [2, "unknown option '--json'"]);
    const sandbox = outcomeOf(await run(["sandbox", "--rate", "fast"]), "sandbox");
    assert.deepEqual([sandbox.exit_code, sandbox.error], [2, "--rate fast: expected n/seconds"]);
    const misuse = outcomeOf(await run(["pusj"]), null);
    assert.deepEqual([misuse.exit_code, misuse.error], [
      2,
      "unknown command 'pusj'\n(Did you mean push?)",
    ]);
  });
});

async function until(seen: () => boolean): Promise<void> {
  while (!seen()) await new Promise((r) => setTimeout(r, 10));
}

function denoDir(): Record<string, string> {
  const home = Deno.env.get("HOME") ?? "/tmp";
  return { HOME: home, DENO_DIR: Deno.env.get("DENO_DIR") ?? `${home}/.cache/deno` };
}
