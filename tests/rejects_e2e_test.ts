/**
 * The rejects file: `--rejects -` writes to stdout (not with --json), `--rejects-append` keeps
 * earlier runs' lines (still 0600, still never through a link), and a ragged row keeps its
 * extra values.
 */
import assert from "node:assert/strict";
import { outcomeOf, runCli, summaryOf, withSandbox } from "./helpers.ts";

const lines = (text: string) => text.trim().split("\n").map((l) => JSON.parse(l));

Deno.test("--rejects - writes the rejects to stdout as NDJSON; people still get the summary", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, "email,name\na@ex.com,Ann\nnope,Bob\nb@ex.com,Cy\n,Dee\n");
    const r = await runCli(["push", csv, "--campaign-id", "1", "--rejects", "-"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      lines(r.stdout).map((x) => [x.source, x.line, x.row.name]),
      [[csv, 3, "Bob"], [csv, 5, "Dee"]],
    );
    assert.match(r.stderr, /^rejects written to stdout$/m);
    assert.equal(sb.state.campaignLeads(1).length, 2);
    // From stdin to stdout, as a filter.
    const piped = await runCli(["push", "--campaign-id", "1", "--rejects", "-", "--quiet"], {
      env,
      stdin: "email\nbad-one\n c@ex.com\n",
    });
    assert.equal(piped.code, 0, piped.stderr);
    assert.deepEqual(lines(piped.stdout).map((x) => [x.source, x.line]), [["<stdin>", 2]]);
    assert.equal(piped.stderr, "");
  });
});

Deno.test("--rejects - with --json is a usage error: stdout carries the summary", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, "email\na@ex.com\n");
    const r = await runCli(["push", csv, "--campaign-id", "1", "--rejects", "-", "--json"], {
      env,
    });
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      'error: --rejects is "-" (stdout), which carries the --json summary — name a file for the rejects, or drop --json\n',
    );
    assert.equal(outcomeOf(r, "push").exit_code, 2);
    const config = `${dir}/c.jsonc`;
    await Deno.writeTextFile(config, `{ "rejects": "-" }`);
    const c = await runCli(["push", csv, "--campaign-id", "1", "--config", config, "--json"], {
      env,
    });
    assert.equal(c.code, 2);
    assert.match(c.stderr, new RegExp(`^error: rejects in ${config} is "-" \\(stdout\\)`));
    assert.equal(sb.requests.length, 0);
  });
});

Deno.test("--rejects-append keeps earlier runs' lines; without it the file is emptied", async () => {
  await withSandbox({}, async ({ dir, env }) => {
    const rejects = `${dir}/rejects.ndjson`;
    const one = `${dir}/one.csv`;
    const two = `${dir}/two.csv`;
    await Deno.writeTextFile(one, "email\nfirst-bad\na@ex.com\n");
    await Deno.writeTextFile(two, "email\nsecond-bad\nb@ex.com\n");
    const run = (csv: string, ...extra: string[]) =>
      runCli(["push", csv, "--campaign-id", "1", "--rejects", rejects, ...extra, "--json"], {
        env,
      });
    assert.equal((await run(one)).code, 0);
    const appended = await run(two, "--rejects-append");
    assert.equal(appended.code, 0, appended.stderr);
    assert.equal(summaryOf(appended).rejects_file, rejects);
    assert.deepEqual(lines(await Deno.readTextFile(rejects)).map((x) => x.row.email), [
      "first-bad",
      "second-bad",
    ]);
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(rejects)).mode! & 0o777, 0o600);
    }
    // A new file is created 0600 in append mode too.
    const fresh = `${dir}/fresh.ndjson`;
    const f = await runCli(
      ["push", one, "--campaign-id", "1", "--rejects", fresh, "--rejects-append"],
      { env },
    );
    assert.equal(f.code, 0, f.stderr);
    assert.equal(lines(await Deno.readTextFile(fresh)).length, 1);
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(fresh)).mode! & 0o777, 0o600);
    }
    // Without --rejects-append, the next run starts the file anew.
    assert.equal((await run(one)).code, 0);
    assert.deepEqual(lines(await Deno.readTextFile(rejects)).map((x) => x.row.email), [
      "first-bad",
    ]);
  });
});

Deno.test("--rejects-append never writes through a symbolic link, and needs a file", async () => {
  await withSandbox({}, async ({ dir, env }) => {
    const target = `${dir}/precious.txt`;
    await Deno.writeTextFile(target, "keep me\n");
    await Deno.symlink(target, `${dir}/link.ndjson`);
    const csv = `${dir}/one.csv`;
    await Deno.writeTextFile(csv, "email\nbad\n");
    const r = await runCli(
      ["push", csv, "--campaign-id", "1", "--rejects", `${dir}/link.ndjson`, "--rejects-append"],
      { env },
    );
    assert.equal(r.code, 2);
    assert.match(r.stderr, /is a symbolic link, and its target would be overwritten/);
    assert.equal(await Deno.readTextFile(target), "keep me\n");
    const none = await runCli(["push", csv, "--campaign-id", "1", "--rejects-append"], { env });
    assert.equal(none.code, 2);
    assert.equal(
      none.stderr,
      "error: --rejects-append: no rejects file to append to — name one with --rejects <path>\n",
    );
  });
});

Deno.test("a ragged row's extra values are kept in its reject record under _extra", async () => {
  await withSandbox({}, async ({ dir, env }) => {
    const csv = `${dir}/ragged.csv`;
    await Deno.writeTextFile(
      csv,
      "email,name\na@ex.com,Ann\nb@ex.com,Bob,Acme Inc,CTO\n",
    );
    const rejects = `${dir}/rejects.ndjson`;
    const r = await runCli(["push", csv, "--campaign-id", "1", "--rejects", rejects], { env });
    assert.equal(r.code, 0, r.stderr);
    const [reject] = lines(await Deno.readTextFile(rejects));
    assert.equal(reject.line, 3);
    assert.equal(reject.reason, "row has 4 fields but the header has 2");
    assert.deepEqual(reject.row, { email: "b@ex.com", name: "Bob", _extra: ["Acme Inc", "CTO"] });
    // A column already named _extra keeps its value; the extras go beside it.
    await Deno.writeTextFile(csv, "email,_extra\nc@ex.com,x,y\n");
    const c = await runCli(["push", csv, "--campaign-id", "1", "--rejects", rejects], { env });
    assert.equal(c.code, 2); // every row rejected
    assert.deepEqual(lines(await Deno.readTextFile(rejects))[0].row, {
      email: "c@ex.com",
      _extra: "x",
      __extra: ["y"],
    });
  });
});
