/**
 * Files holding leads or configuration are for their owner only (0600, directories 0700),
 * and `--rejects` never truncates a file through a symbolic link.
 */
import assert from "node:assert/strict";
import { acquireLock } from "../lib/index/lock.ts";
import { IndexStore } from "../lib/index/store.ts";
import { runCli, summaryOf, tempDir, withSandbox } from "./helpers.ts";

const modeOf = async (path: string) => ((await Deno.stat(path)).mode! & 0o777).toString(8);

Deno.test("push creates the state directories 0700 and the index, lock and rejects files 0600", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, "email,first_name\na@ex.com,Ann\nnot-an-email,Bob\n");
    const rejects = `${dir}/rejects.ndjson`;
    const r = await runCli(
      ["push", csv, "--campaign-id", "1", "--rejects", rejects, "--json"],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(summaryOf(r).added, 1);
    const u = new URL(sb.url);
    const index = `${dir}/state/smartlead-sync/${u.hostname}_${u.port}-campaign-1.db`;
    assert.deepEqual(
      {
        state: await modeOf(`${dir}/state`),
        stateDir: await modeOf(`${dir}/state/smartlead-sync`),
        index: await modeOf(index),
        lock: await modeOf(`${index}.lock`),
        rejects: await modeOf(rejects),
      },
      { state: "700", stateDir: "700", index: "600", lock: "600", rejects: "600" },
    );

    // Files an older version left 0644 are tightened when they are written again.
    await Deno.chmod(index, 0o644);
    await Deno.chmod(`${index}.lock`, 0o644);
    await Deno.chmod(rejects, 0o644);
    const again = await runCli(
      ["push", csv, "--campaign-id", "1", "--rejects", rejects, "--json"],
      { env },
    );
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(
      [await modeOf(index), await modeOf(`${index}.lock`), await modeOf(rejects)],
      ["600", "600", "600"],
    );
  });
});

Deno.test("the index's WAL and shared-memory files and the lock-holder file are 0600", async () => {
  const dir = await tempDir();
  try {
    const path = `${dir}/index.db`;
    const lock = acquireLock(path);
    const store = new IndexStore(path);
    try {
      store.record([{ email: "a@ex.com", hash: "h", status: "synced", origin: "tool", leadId: 1 }]);
      assert.deepEqual(
        {
          index: await modeOf(path),
          wal: await modeOf(`${path}-wal`),
          shm: await modeOf(`${path}-shm`),
          lock: await modeOf(`${path}.lock`),
          holder: await modeOf(`${path}.lock.json`),
        },
        { index: "600", wal: "600", shm: "600", lock: "600", holder: "600" },
      );
    } finally {
      store.close();
      lock.release();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("init writes the config 0600, also when --force replaces a file", async () => {
  const dir = await tempDir();
  try {
    const config = `${dir}/smartlead-sync.json`;
    const r = await runCli(["init", "--config", config, "--campaign-id", "7"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await modeOf(config), "600");
    await Deno.chmod(config, 0o644);
    const forced = await runCli(["init", "--config", config, "--force"]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(await modeOf(config), "600");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--rejects refuses a symbolic link to a file and leaves its target alone", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, "email\na@ex.com\nnot-an-email\n");
    const victim = `${dir}/precious.txt`;
    await Deno.writeTextFile(victim, "do not truncate me\n");
    const link = `${dir}/rejects.ndjson`;
    await Deno.symlink(victim, link);
    const r = await runCli(["push", csv, "--campaign-id", "1", "--rejects", link], { env });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(
      r.stderr,
      `error: cannot write the rejects file ${link}: is a symbolic link, and its target would be overwritten — name the file itself, not a link to it (--rejects)\n`,
    );
    assert.equal(await Deno.readTextFile(victim), "do not truncate me\n");
    assert.equal(sb.state.campaignLeads(1).length, 0);

    // A dangling link is refused too (its target would be created).
    const dangling = `${dir}/dangling.ndjson`;
    await Deno.symlink(`${dir}/nowhere.ndjson`, dangling);
    const d = await runCli(["push", csv, "--campaign-id", "1", "--rejects", dangling], { env });
    assert.equal(d.code, 2, d.stderr);
    assert.match(
      d.stderr,
      /^error: cannot write the rejects file .*dangling\.ndjson: is a symbolic link, /m,
    );
    assert.equal(await Deno.stat(`${dir}/nowhere.ndjson`).then(() => true, () => false), false);

    // A device is written as it is.
    const dev = await runCli(
      ["push", csv, "--campaign-id", "1", "--rejects", "/dev/null", "--json"],
      { env },
    );
    assert.equal(dev.code, 0, dev.stderr);
    assert.equal(summaryOf(dev).rejected, 1);
  });
});
