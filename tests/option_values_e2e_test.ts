/**
 * Flags never turn a dry run into a live write: a value that begins with "-" is a usage
 * error unless written --flag=value, a single-value flag given twice is an error, and a bad
 * value names where it came from (flag, environment variable, config file).
 */
import assert from "node:assert/strict";
import type { Command } from "commander";
import { buildProgram } from "../cli.ts";
import type { CommandContext } from "../lib/commands/context.ts";
import { checkOptionValues, DASH_VALUE, isRepeatable } from "../lib/commands/option_values.ts";
import { runCli, summaryOf, TESTDATA, withSandbox } from "./helpers.ts";

function program(): Command {
  const ctx: CommandContext = {
    output: { out: () => {}, err: () => {}, errIsTty: false, color: false },
    stdin: ReadableStream.from<Uint8Array>([]),
    debug: false,
    stdinIsTty: false,
    exitCode: 0,
    json: false,
    report: {},
  };
  return buildProgram(ctx);
}

const messy = `${TESTDATA}/messy.csv`;

Deno.test("every value-taking option of every command refuses a value that begins with '-'", () => {
  const prog = program();
  const swept = new Map<string, string[]>();
  for (const cmd of prog.commands) {
    for (const opt of cmd.options.filter((o) => o.required)) {
      const flag = opt.long!;
      swept.set(cmd.name(), [...(swept.get(cmd.name()) ?? []), flag]);
      // "-" alone is stdout for --rejects, refused elsewhere.
      const values = DASH_VALUE.has(flag)
        ? ["--dry-run", "-x", "-5"]
        : ["--dry-run", "-x", "-", "-5"];
      if (DASH_VALUE.has(flag)) checkOptionValues(prog, [cmd.name(), flag, "-"]);
      for (const value of values) {
        assert.throws(
          () => checkOptionValues(prog, [cmd.name(), flag, value]),
          {
            name: "UsageError",
            message: `${flag} needs a value, but the next argument "${value}" begins with "-"`,
          },
          `${cmd.name()} ${flag} ${value}`,
        );
      }
      // Written --flag=value, a value may begin with "-".
      checkOptionValues(prog, [cmd.name(), `${flag}=-x`]);
      checkOptionValues(prog, [cmd.name(), flag, "x"]);
      // Given twice: an error, unless the option accumulates (--map, --tags, ...).
      const twice = () => checkOptionValues(prog, [cmd.name(), flag, "a", `${flag}=b`]);
      if (isRepeatable(opt)) twice();
      else {
        assert.throws(twice, {
          name: "UsageError",
          message: `${flag} is given more than once`,
        }, `${cmd.name()} ${flag} twice`);
      }
    }
  }
  // The sweep did visit the options the issue names, in every command that has them.
  for (const flag of ["--tags", "--rejects", "--state", "--campaign-id", "--map", "--config"]) {
    assert.ok(swept.get("push")!.includes(flag), flag);
  }
  for (const name of ["check", "state", "verify", "mapping", "init", "sandbox"]) {
    assert.ok((swept.get(name) ?? []).length > 0, name);
  }
  const repeatable = prog.commands.flatMap((c) =>
    c.options.filter(isRepeatable).map((o) => `${c.name()} ${o.long}`)
  );
  assert.deepEqual(repeatable, [
    "push --map",
    "push --tags",
    "mapping --map",
    "sandbox --campaign-id",
    "singer --config",
  ]);
});

Deno.test("operands are left alone: '-' (stdin) anywhere, and everything after '--'", () => {
  const prog = program();
  for (
    const args of [
      ["push", "-", "--campaign-id", "1"],
      ["push", "--campaign-id", "1", "-"],
      ["push", "--tags", "x", "-", "--dry-run"],
      ["--debug", "push", "-", "--json"],
      ["mapping", "-"],
      ["push", "--campaign-id", "1", "--", "--tags"],
      ["completions", "bash"],
    ]
  ) checkOptionValues(prog, args);
  // The program's own options before the command do not hide the command's.
  assert.throws(() => checkOptionValues(prog, ["--debug", "push", "--rejects", "--dry-run"]), {
    name: "UsageError",
  });
});

Deno.test("--tags, --rejects, --state followed by --dry-run: exit 2 and no write anywhere", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    for (const flag of ["--tags", "--rejects", "--state"]) {
      const r = await runCli(["push", messy, "--campaign-id", "1", flag, "--dry-run"], {
        env,
        cwd: dir,
      });
      assert.equal(r.code, 2, `${flag}: ${r.stderr}`);
      assert.equal(
        r.stderr,
        `error: ${flag} needs a value, but the next argument "--dry-run" begins with "-" — ` +
          `give ${flag} its value, or write ${flag}=VALUE if the value really begins with "-"\n`,
      );
      assert.equal(r.stdout, "");
    }
    assert.equal(sb.requests.length, 0);
    assert.deepEqual(sb.state.campaignLeads(1), []);
    // Nothing named "--dry-run" was created (rejects file or state directory), no index.
    const made: string[] = [];
    for await (const e of Deno.readDir(dir)) made.push(e.name);
    assert.deepEqual(made, []);
  });
});

Deno.test("a value that begins with '-' is taken when written --flag=value; '-' stays stdin", async () => {
  await withSandbox({}, async ({ sb, env }) => {
    const r = await runCli(["push", messy, "--campaign-id", "1", "--tags=-vip", "--json"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(summaryOf(r).added, 3);
    const tags = () =>
      Object.fromEntries(sb.state.campaignLeads(1).map((l) => [l.email, l.custom_fields.tags]));
    assert.deepEqual(tags(), {
      "ann.lee@example.com": "vip,2026,-vip",
      "bob@example.org": "-vip",
      "eve@example.net": "-vip",
    });
    const csv = "email,first_name\nstdin1@ex.com,A\nstdin2@ex.com,B\n";
    const a = await runCli(["push", "-", "--campaign-id", "1", "--json"], { env, stdin: csv });
    assert.equal(a.code, 0, a.stderr);
    assert.equal(summaryOf(a).added, 2);
    const b = await runCli(["push", "--campaign-id", "1", "--tags", "x", "-", "--json"], {
      env,
      stdin: csv.replaceAll("stdin", "piped"),
    });
    assert.equal(b.code, 0, b.stderr);
    assert.deepEqual([summaryOf(b).inputs, summaryOf(b).added], [["-"], 2]);
    assert.equal(sb.state.campaignLeads(1).length, 7);
  });
});

Deno.test("a single-value flag given twice is an error, not 'last wins'", async () => {
  await withSandbox({ campaignIds: [1, 2] }, async ({ sb, env }) => {
    const r = await runCli(["push", messy, "--campaign-id", "1", "--campaign-id", "2"], { env });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(
      r.stderr,
      "error: --campaign-id is given more than once — give it once (a later value does not replace an earlier one)\n",
    );
    assert.equal(sb.requests.length, 0);
    // Repeatable ones still accumulate.
    const ok = await runCli(["push", messy, "--campaign-id", "1", "--tags", "a", "--tags", "b"], {
      env,
    });
    assert.equal(ok.code, 0, ok.stderr);
    const bob = sb.state.campaignLeads(1).find((l) => l.email === "bob@example.org")!;
    assert.equal(bob.custom_fields.tags, "a,b");
  });
});

Deno.test("a bad value names where it came from: the variable, the config file key, the flag", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const { SMARTLEAD_BASE_URL: _, ...noBase } = env;
    await Deno.writeTextFile(
      `${dir}/c.json`,
      JSON.stringify({ campaign_id: "0", base_url: "ftp://files.example/" }),
    );
    await Deno.writeTextFile(`${dir}/r.json`, JSON.stringify({ campaign_id: 1, rate: "0/2" }));
    await Deno.writeTextFile(`${dir}/d.json`, JSON.stringify({ campaign_id: 1, rejects: dir }));
    const cases: Array<[string[], Record<string, string>, string]> = [
      [
        ["push", messy],
        { ...env, SMARTLEAD_CAMPAIGN_ID: "abc" },
        'error: SMARTLEAD_CAMPAIGN_ID "abc": expected a whole number of at least 1 — fix or unset SMARTLEAD_CAMPAIGN_ID',
      ],
      [
        ["push", messy, "--campaign-id", "abc"],
        env,
        'error: --campaign-id "abc": expected a whole number of at least 1 — see --help',
      ],
      [
        ["push", messy, "--campaign-id", "1"],
        { ...env, SMARTLEAD_BASE_URL: "ftp://x" },
        'error: SMARTLEAD_BASE_URL "ftp://x": not an http(s) URL — fix or unset SMARTLEAD_BASE_URL, e.g. https://server.smartlead.ai/api/v1',
      ],
      [
        ["push", messy, "--config", `${dir}/c.json`],
        noBase,
        `error: ${dir}/c.json: campaign_id "0": expected a whole number of at least 1 — fix campaign_id in ${dir}/c.json`,
      ],
      [
        ["push", messy, "--config", `${dir}/c.json`, "--campaign-id", "1"],
        noBase,
        `error: ${dir}/c.json: base_url "ftp://files.example/": not an http(s) URL — fix base_url in ${dir}/c.json, e.g. https://server.smartlead.ai/api/v1`,
      ],
      [
        ["push", messy, "--config", `${dir}/r.json`],
        env,
        `error: ${dir}/r.json: rate "0/2": expected n/seconds, e.g. 10/2 — fix rate in ${dir}/r.json`,
      ],
      [
        ["push", messy, "--config", `${dir}/d.json`],
        env,
        `error: cannot write the rejects file ${dir}: is a directory — check rejects in ${dir}/d.json`,
      ],
      [
        ["push", messy, "--campaign-id", "1"],
        { ...env, SMARTLEAD_SYNC_CONFIG: `${dir}/none.json` },
        `error: cannot read the config file ${dir}/none.json: no such file — check SMARTLEAD_SYNC_CONFIG`,
      ],
    ];
    for (const [args, e, line] of cases) {
      const r = await runCli(args, { env: e });
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.stderr, line + "\n");
    }
    assert.equal(sb.requests.length, 0);
  });
});
