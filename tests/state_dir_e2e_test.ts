/**
 * Where the index goes when --state is not given: from the declared variables only, so a
 * container or a systemd unit without HOME gets "pass --state" (exit 2), not a permission
 * error (exit 1).
 */
import assert from "node:assert/strict";
import { UsageError } from "../lib/errors.ts";
import type { EnvVar } from "../lib/env.ts";
import { defaultStateDir } from "../lib/index/paths.ts";
import { permissionFlags } from "../scripts/permissions.ts";
import { runCli, summaryOf, withSandbox } from "./helpers.ts";

const from = (vars: Partial<Record<EnvVar, string>>) => (name: EnvVar) => vars[name];

Deno.test("defaultStateDir: XDG_STATE_HOME, then LOCALAPPDATA on Windows, then HOME", async (t) => {
  await t.step("XDG_STATE_HOME wins everywhere", () => {
    const vars = { XDG_STATE_HOME: "/x/", LOCALAPPDATA: "C:\\L", HOME: "/h" };
    assert.equal(defaultStateDir("linux", from(vars)), "/x/smartlead-sync");
    assert.equal(defaultStateDir("windows", from(vars)), "/x/smartlead-sync");
  });
  await t.step("Windows: the local app-data directory", () => {
    const vars = { LOCALAPPDATA: "C:\\Users\\ana\\AppData\\Local\\", HOME: "/h" };
    assert.equal(
      defaultStateDir("windows", from(vars)),
      "C:\\Users\\ana\\AppData\\Local\\smartlead-sync",
    );
  });
  await t.step("elsewhere LOCALAPPDATA means nothing; HOME does", () => {
    const vars = { LOCALAPPDATA: "C:\\L", HOME: "/home/ana" };
    assert.equal(defaultStateDir("linux", from(vars)), "/home/ana/.local/state/smartlead-sync");
    assert.equal(defaultStateDir("darwin", from(vars)), "/home/ana/.local/state/smartlead-sync");
  });
  await t.step("nothing set: a usage error saying to pass --state", () => {
    for (
      const [os, names] of [["linux", "XDG_STATE_HOME, HOME"], [
        "windows",
        "XDG_STATE_HOME, LOCALAPPDATA, HOME",
      ]] as const
    ) {
      assert.throws(
        () => defaultStateDir(os, from({ LOCALAPPDATA: os === "linux" ? "C:\\L" : "" })),
        (e) => {
          assert.ok(e instanceof UsageError);
          assert.equal(e.exitCode, 2);
          assert.equal(e.message, `cannot find a state directory: none of ${names} is set`);
          assert.equal(e.hint, "pass --state <directory or .db file>");
          return true;
        },
      );
    }
  });
  await t.step("LOCALAPPDATA is a declared permission", () => {
    const env = permissionFlags().find((f) => f.startsWith("--allow-env="))!;
    assert.ok(env.split("=")[1]!.split(",").includes("LOCALAPPDATA"), env);
  });
});

Deno.test("no HOME and no XDG_STATE_HOME: exit 2 'pass --state'; with --state the run works", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, "email\na@ex.com\nb@ex.com\n");
    const { XDG_STATE_HOME: _, ...noState } = env;
    const args = ["push", csv, "--campaign-id", "1", "--json"];
    const without = await runCli(args, { env: noState, unsetEnv: ["HOME"] });
    assert.equal(without.code, 2, without.stderr);
    assert.equal(
      without.stderr,
      "error: cannot find a state directory: none of XDG_STATE_HOME, HOME is set — pass --state <directory or .db file>\n",
    );
    assert.equal(sb.state.campaignLeads(1).length, 0);

    const state = await runCli(["state", "--campaign-id", "1"], {
      env: noState,
      unsetEnv: ["HOME"],
    });
    assert.equal(state.code, 2, state.stderr);
    assert.match(state.stderr, /^error: cannot find a state directory: .* — pass --state /);

    const withState = await runCli([...args, "--state", `${dir}/idx`], {
      env: noState,
      unsetEnv: ["HOME"],
    });
    assert.equal(withState.code, 0, withState.stderr);
    assert.equal(summaryOf(withState).added, 2);
    assert.equal((await Deno.stat(`${dir}/idx`)).isDirectory, true);
  });
});
