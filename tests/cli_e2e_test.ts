/**
 * End-to-end: help, version, completions, config file and precedence, init, mapping.
 */
import assert from "node:assert/strict";
import { VERSION } from "../lib/version.ts";
import { runCli, sandboxCli, summaryOf, tempDir, TESTDATA, withSandbox } from "./helpers.ts";

Deno.test("help asked for goes to stdout with exit 0; help from misuse goes to stderr with exit 2", async () => {
  const asked = await runCli(["push", "--help"]);
  assert.equal(asked.code, 0);
  assert.match(asked.stdout, /^Usage: smartlead-sync push \[options\] \[input\.\.\.\]/);
  assert.match(asked.stdout, /Cron \(one run per index at a time; a second one exits 7\):/);
  assert.equal(asked.stderr, "");
  const none = await runCli([]);
  assert.equal(none.code, 2);
  assert.equal(none.stdout, "");
  assert.match(none.stderr, /^Usage: smartlead-sync \[options\] \[command\]/);
  const unknown = await runCli(["pusj"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command 'pusj'/);
  const version = await runCli(["--version"]);
  assert.deepEqual([version.code, version.stdout], [0, `${VERSION}\n`]);
});

Deno.test("completions for bash, zsh and fish name every command and push's flags", async () => {
  for (const shell of ["bash", "zsh", "fish"]) {
    const r = await runCli(["completions", shell]);
    assert.equal(r.code, 0, r.stderr);
    for (
      const word of [
        "push",
        "check",
        "state",
        "verify",
        "mapping",
        "init",
        "sandbox",
        "dry-run",
        "delete-missing",
      ]
    ) {
      assert.ok(r.stdout.includes(word), `${shell} lacks ${word}`);
    }
  }
  const bad = await runCli(["completions", "tcsh"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^error: unknown shell "tcsh" — use bash, zsh or fish\n$/);
});

/** Writes `smartlead-sync completions <shell>` to a file and runs `script` in that shell. */
async function inShell(shell: string, script: (file: string) => string): Promise<string> {
  const r = await runCli(["completions", shell]);
  assert.equal(r.code, 0, r.stderr);
  const dir = await tempDir();
  try {
    await Deno.writeTextFile(`${dir}/completion`, r.stdout);
    const out = await new Deno.Command(shell, {
      args: ["-c", script(`${dir}/completion`)],
      stdout: "piped",
      stderr: "piped",
    }).output().catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      throw new Error(`${shell} is not installed: apt-get install zsh fish (.ci/run does)`);
    });
    const err = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, err);
    assert.equal(err, "");
    return new TextDecoder().decode(out.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("bash completion, sourced in bash: commands, each command's options, option values", async () => {
  // Each case: the words on the line (the last one being completed) → what bash offers.
  const cases: [string[], string][] = [
    [["pu"], "push"],
    [["completions", ""], "bash zsh fish"],
    [["completions", "z"], "zsh"],
    [["push", "--mode", ""], "incremental full-refresh"],
    [["push", "--format", "n"], "ndjson"],
    [["push", "--dry"], "--dry-run"],
    [["check", "--js"], "--json"],
    [["push", "--campaign-id", ""], ""],
  ];
  const script = (file: string) =>
    `source ${file}\n` +
    cases.map(([words]) =>
      `COMP_WORDS=(smartlead-sync ${
        words.map((w) => `'${w}'`).join(" ")
      }); COMP_CWORD=${words.length}; COMPREPLY=(); _smartlead_sync; echo "\${COMPREPLY[*]}"`
    ).join("\n");
  const lines = (await inShell("bash", script)).split("\n");
  cases.forEach(([words, want], i) => assert.equal(lines[i], want, words.join(" ")));
});

Deno.test("fish completion, sourced in fish: commands, option values, shells", async () => {
  const out = await inShell(
    "fish",
    (file) =>
      `source ${file}; for line in "pu" "push --mode " "completions " "push --dry" "push --format "; complete -C "smartlead-sync $line" | string split -f1 \\t | string join ' '; end`,
  );
  assert.deepEqual(out.split("\n").slice(0, 5), [
    "push",
    "full-refresh incremental",
    "bash fish zsh",
    "--dry-run",
    "csv json ndjson",
  ]);
});

Deno.test("zsh completion, sourced in zsh: value-taking options declare their values, flags do not", async () => {
  // zsh's completion functions are stubbed to print what the script asks of them.
  const out = await inShell(
    "zsh",
    (file) =>
      `compdef() { :; }; _describe() { print -r -- "describe \${(P)2}"; }
_arguments() { print -rl -- "$@"; }
source ${file}
words=(smartlead-sync push x); CURRENT=3; _smartlead-sync
print -- ---
words=(smartlead-sync completions ""); CURRENT=3; _smartlead-sync
print -- ---
words=(smartlead-sync ""); CURRENT=2; _smartlead-sync`,
  );
  const [push, completions, top] = out.split("---\n");
  const args = push!.trim().split("\n");
  assert.ok(
    args.includes("--mode[incremental (default) or full-refresh]:mode:(incremental full-refresh)"),
  );
  assert.ok(
    args.includes(
      "--format[input format (default\\: from the extension, or sniffed)]:format:(csv ndjson json)",
    ),
  );
  assert.ok(args.includes("--dry-run[plan everything, write nothing to Smartlead]"));
  assert.ok(args.some((a) => /^--rejects\[.*\]:rejects:_files$/.test(a)));
  assert.ok(args.some((a) => /^--campaign-id\[.*\]:campaign-id: $/.test(a)));
  assert.equal(args.at(-1), "*:file:_files");
  assert.deepEqual(completions!.trim().split("\n"), [
    "--help[show help]",
    "1:completions:(bash zsh fish)",
  ]);
  assert.match(top!, /^describe push:stream CSV\/NDJSON leads into a Smartlead campaign check:/);
});

Deno.test("mapping shows each column's target without touching the network", async () => {
  const r = await runCli(["mapping", `${TESTDATA}/messy.csv`, "--map", "custom_fields.Note=Notes"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    [
      '"E-mail Address" → email',
      '"First Name" → first_name',
      '"last name" → last_name',
      '"Company" → company_name',
      '"Phone" → phone_number',
      '"LinkedIn URL" → linkedin_profile',
      '"Job Title" → custom_fields.Job Title',
      '"Notes" → custom_fields.Note',
      '"tags" → custom_fields.tags (merged with --tags)',
    ].join("\n") + "\n",
  );
});

Deno.test("config file: validated, precedence flags > env > file > defaults, init writes a usable file", async () => {
  await withSandbox({ campaignIds: [1, 2, 3] }, async ({ sb, dir, env }) => {
    const init = await runCli(["init", `${TESTDATA}/messy.csv`, "--campaign-id", "2"], {
      env,
      cwd: dir,
    });
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stderr, /"E-mail Address" → email/);
    const text = await Deno.readTextFile(`${dir}/smartlead-sync.jsonc`);
    assert.ok(!text.includes(sb.apiKey));
    assert.match(text, /"campaign_id": 2,/);
    const again = await runCli(["init"], { env, cwd: dir });
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already exists — pass --force/);

    // The file's campaign (2) is used when neither flag nor env name one.
    const { SMARTLEAD_CAMPAIGN_ID: _, ...noCampaign } = env;
    const r1 = await runCli(["push", `${TESTDATA}/messy.csv`, "--json"], {
      env: noCampaign,
      cwd: dir,
    });
    assert.equal(r1.code, 0, r1.stderr);
    assert.equal(summaryOf(r1).campaign_id, 2);
    // env beats the file, the flag beats env.
    const r2 = await runCli(["push", `${TESTDATA}/messy.csv`, "--json"], {
      env: { ...env, SMARTLEAD_CAMPAIGN_ID: "3" },
      cwd: dir,
    });
    assert.equal(summaryOf(r2).campaign_id, 3);
    const r3 = await runCli(["push", `${TESTDATA}/messy.csv`, "--json", "--campaign-id", "1"], {
      env: { ...env, SMARTLEAD_CAMPAIGN_ID: "3" },
      cwd: dir,
    });
    assert.equal(summaryOf(r3).campaign_id, 1);
    assert.equal(sb.state.campaignLeads(1).length, 3);
    assert.equal(sb.state.campaignLeads(2).length, 3);

    // Tags, mapping and settings from the file reach Smartlead.
    await Deno.writeTextFile(
      `${dir}/custom.json`,
      JSON.stringify({
        campaign_id: 1,
        tags: ["cfg"],
        map: { "custom_fields.Role": "Job Title" },
        settings: { ignore_unsubscribe_list: true },
      }),
    );
    const mark = sb.requests.length;
    const r4 = await runCli([
      "push",
      `${TESTDATA}/messy.csv`,
      "--config",
      `${dir}/custom.json`,
      "--mode",
      "full-refresh",
    ], { env: noCampaign });
    assert.equal(r4.code, 0, r4.stderr);
    const body = sb.requests.slice(mark).find((q) => q.method === "POST")!.body as {
      lead_list: Array<{ email: string; custom_fields: Record<string, string> }>;
      settings: Record<string, boolean>;
    };
    assert.deepEqual(body.settings, { ignore_unsubscribe_list: true, return_lead_ids: true });
    // The column now maps to "Role": the field the last accepted payload had is cleared.
    assert.deepEqual(body.lead_list[0]!.custom_fields, {
      Role: "CTO",
      Notes: "line one\r\nline two",
      tags: "cfg",
      "Job Title": "",
    });

    // init without a campaign id writes a placeholder that the next command explains.
    const blank = await Deno.makeTempDir({ dir });
    const init2 = await runCli(["init"], { env, cwd: blank });
    assert.equal(init2.code, 0, init2.stderr);
    assert.match(
      await Deno.readTextFile(`${blank}/smartlead-sync.jsonc`),
      /"campaign_id": "<campaign id: run smartlead-sync campaigns>",/,
    );
    const placeholder = await runCli(["push", `${TESTDATA}/messy.csv`], {
      env: noCampaign,
      cwd: blank,
    });
    assert.equal(placeholder.code, 2);
    assert.equal(
      placeholder.stderr,
      "error: smartlead-sync.jsonc: campaign_id is still the placeholder that init wrote — set it to the campaign's id (smartlead-sync campaigns lists them) or pass --campaign-id\n",
    );

    // Unknown and mistyped keys name the key.
    await Deno.writeTextFile(`${dir}/bad.json`, JSON.stringify({ campaign_id: 1, batchsize: 10 }));
    const bad = await runCli(["push", `${TESTDATA}/messy.csv`, "--config", `${dir}/bad.json`], {
      env,
    });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^error: .*bad\.json: unknown key "batchsize" — allowed keys: /);
    await Deno.writeTextFile(
      `${dir}/bad2.json`,
      JSON.stringify({ settings: { ignore_unsubscribe_list: "yes" } }),
    );
    const bad2 = await runCli(["push", `${TESTDATA}/messy.csv`, "--config", `${dir}/bad2.json`], {
      env,
    });
    assert.equal(bad2.code, 2);
    assert.match(bad2.stderr, /^error: .*bad2\.json: key "settings\.ignore_unsubscribe_list": /);
  });
});

Deno.test("the sandbox sub-command serves a working Smartlead API and prints its URL and key", async () => {
  const sandbox = await sandboxCli(["--campaign-id", "7", "--api-key", "demo-key-77"]);
  const { info } = sandbox;
  assert.match(info.url, /^http:\/\/127\.0\.0\.1:\d+\/api\/v1$/);
  assert.deepEqual([info.api_key, info.campaign_ids], ["demo-key-77", [7]]);
  const dir = await tempDir();
  try {
    const r = await runCli(["push", `${TESTDATA}/messy.csv`, "--campaign-id", "7", "--json"], {
      env: { SMARTLEAD_BASE_URL: info.url, SMARTLEAD_API_KEY: "demo-key-77", XDG_STATE_HOME: dir },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(summaryOf(r).added, 3);
  } finally {
    const stopped = await sandbox.stop();
    assert.match(stopped.stderr, /base URL: {5}http:\/\/127\.0\.0\.1:\d+\/api\/v1/);
    assert.equal(stopped.code, 0);
    await Deno.remove(dir, { recursive: true });
  }
});
