/**
 * Problems of the machine are exit 2 with their real cause, not "internal error": a full
 * disk, a read-only state directory, a system path, a busy sandbox port.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { UsageError } from "../lib/errors.ts";
import { IndexStore } from "../lib/index/store.ts";
import { environmentError } from "../lib/os_errors.ts";
import { RejectsWriter } from "../lib/pipeline/rejects.ts";
import { runCli, tempDir, withSandbox } from "./helpers.ts";

async function inTemp(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await tempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const canCreate = (dir: string) =>
  Deno.writeTextFile(`${dir}/.probe`, "").then(() => Deno.remove(`${dir}/.probe`)).then(
    () => true,
    () => false,
  );

/**
 * Makes `dir` refuse new entries: chmod 0500 where that binds (not for root), else
 * `chattr +i` (root). Returns the cause the system gives, and how to undo it.
 */
async function readOnlyDir(dir: string): Promise<{ cause: string; undo: () => Promise<void> }> {
  await Deno.chmod(dir, 0o500);
  if (!(await canCreate(dir))) {
    return { cause: "permission denied", undo: () => Deno.chmod(dir, 0o700) };
  }
  await Deno.chmod(dir, 0o700);
  const chattr = (flag: string) =>
    new Deno.Command("chattr", { args: [flag, dir], stderr: "null" }).output();
  const done = await chattr("+i").catch(() => undefined);
  if (done?.success && !(await canCreate(dir))) {
    return { cause: "operation not permitted", undo: async () => void await chattr("-i") };
  }
  throw new Error(`cannot make ${dir} read-only here (chmod does not bind, chattr +i failed)`);
}

Deno.test("a read-only state directory: exit 2 naming the file and the cause", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, "email\na@ex.com\nb@ex.com\n");
    await Deno.mkdir(`${dir}/fresh`);
    await Deno.mkdir(`${dir}/used`);
    const used = `${dir}/used/leads.db`;
    const first = await runCli(["push", csv, "--campaign-id", "1", "--state", used], { env });
    assert.equal(first.code, 0, first.stderr);
    await Deno.writeTextFile(csv, "email\na@ex.com\nb@ex.com\nc@ex.com\n");
    const fresh = await readOnlyDir(`${dir}/fresh`);
    const ro = await readOnlyDir(`${dir}/used`);
    try {
      const a = await runCli(
        ["push", csv, "--campaign-id", "1", "--state", `${dir}/fresh/leads.db`],
        { env },
      );
      assert.equal(a.code, 2, a.stderr);
      assert.equal(
        a.stderr,
        `error: cannot create the lock file ${dir}/fresh/leads.db.lock: ${fresh.cause} — check --state and the permissions of its directory\n`,
      );
      const b = await runCli(["push", csv, "--campaign-id", "1", "--state", used], { env });
      assert.equal(b.code, 2, b.stderr);
      assert.match(
        b.stderr,
        new RegExp(
          `^error: cannot write to the index ${used}: ${ro.cause} — check --state and the permissions of its directory$`,
          "m",
        ),
      );
      const c = await runCli(["state", "--campaign-id", "1", "--state", used], { env });
      assert.equal(c.code, 2, c.stderr);
      assert.equal(
        c.stderr,
        `error: cannot read the index ${used}: ${ro.cause} — SQLite must create leads.db-shm beside it to read it: make its directory writable, or copy the index elsewhere and pass that --state\n`,
      );
      assert.equal(sb.state.campaignLeads(1).length, 2);
    } finally {
      await fresh.undo();
      await ro.undo();
    }
  });
});

Deno.test("--state under a system path: exit 2 saying so (push and verify --repair)", async () => {
  await withSandbox({}, async ({ dir, env }) => {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, "email\na@ex.com\n");
    for (const args of [["push", csv], ["verify", "--repair"]]) {
      const r = await runCli([...args, "--campaign-id", "1", "--state", "/proc/x.db"], { env });
      assert.equal(r.code, 2, r.stderr);
      assert.equal(
        r.stderr,
        "error: cannot create the state directory /proc: a system path this tool may not use — check --state\n",
      );
    }
  });
});

Deno.test("a full disk while writing the index: SQLite's error, not 'cannot rollback'; exit 2", async () => {
  await inTemp((dir) => {
    const path = `${dir}/x.db`;
    const store = new IndexStore(path);
    try {
      const pages = Number(
        (store.db.prepare("pragma page_count").get() as { page_count: number }).page_count,
      );
      // SQLite reports SQLITE_FULL exactly as for a full disk once the file reaches this size.
      store.db.exec(`pragma max_page_count = ${pages + 2}`);
      const many = Array.from({ length: 2000 }, (_, i) => ({
        email: `p${i}@ex.com`,
        hash: "0123456789abcdef",
        status: "synced" as const,
        origin: "tool" as const,
        leadId: i,
      }));
      let thrown: unknown;
      try {
        store.record(many);
      } catch (e) {
        thrown = e;
      }
      assert.ok(thrown instanceof Error);
      assert.equal(thrown.message, "database or disk is full");
      assert.equal(store.db.isTransaction, false);
      const mapped = environmentError(thrown, path);
      assert.ok(mapped instanceof UsageError);
      assert.equal(mapped.exitCode, 2);
      assert.equal(
        mapped.message,
        `the disk is full: cannot write the index ${path} (or SQLite's temporary files)`,
      );
      assert.equal(
        mapped.hint,
        "free some space and run the same command again; what was recorded is kept",
      );
      // Nothing half-written: the index still has no leads, and takes writes again.
      assert.deepEqual(store.statusCounts(), { synced: 0, rejected: 0, pending: 0 });
      store.record(many.slice(0, 1));
      assert.equal(store.statusCounts().synced, 1);
    } finally {
      store.close();
    }
  });
});

Deno.test("a full disk while writing the rejects file: exit 2 naming it", async () => {
  const rejects = await RejectsWriter.open("/dev/full"); // every write: ENOSPC
  await rejects.write({ source: "a.csv", line: 2, reason: "invalid email", row: { email: "x" } });
  await assert.rejects(() => rejects.close(), (e) => {
    assert.ok(e instanceof UsageError);
    assert.equal(e.exitCode, 2);
    assert.equal(e.message, "cannot write the rejects file /dev/full: no space left on device");
    return true;
  });
});

Deno.test("environmentError: which errors are the machine's, and their wording", async (t) => {
  const osError = (code: string, message: string) => Object.assign(new Error(message), { code });
  await t.step("ENOSPC, EROFS and EDQUOT from any file operation", () => {
    for (
      const [code, cause] of [
        ["ENOSPC", "no space left on device"],
        ["EROFS", "read-only file system"],
        ["EDQUOT", "disk quota exceeded"],
      ] as const
    ) {
      const e = environmentError(osError(code, `os error: write 'x'`));
      assert.ok(e instanceof UsageError, code);
      assert.equal(e.message, `${cause}: os error: write 'x'`);
    }
  });
  await t.step("writing through a read-only SQLite connection", async () => {
    await inTemp((dir) => {
      new IndexStore(`${dir}/x.db`).close();
      const db = new DatabaseSync(`${dir}/x.db`, { readOnly: true });
      try {
        let thrown: unknown;
        try {
          db.exec("insert into meta(key, value) values ('a', 'b')");
        } catch (e) {
          thrown = e;
        }
        const e = environmentError(thrown, `${dir}/x.db`);
        assert.ok(e instanceof UsageError);
        assert.equal(e.message, `cannot write the index ${dir}/x.db: it is read-only`);
      } finally {
        db.close();
      }
    });
  });
  await t.step("anything else stays an internal error", () => {
    assert.equal(environmentError(new TypeError("x is undefined")), undefined);
    assert.equal(environmentError(osError("EINVAL", "bad")), undefined);
    const sqlite = Object.assign(new Error("no such table: x"), { code: "ERR_SQLITE_ERROR" });
    assert.equal(environmentError(sqlite), undefined);
  });
});

Deno.test("sandbox on a busy port: exit 2 naming the port", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const r = await runCli(["sandbox", "--port", String(port)]);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, "");
  assert.equal(
    r.stderr,
    `error: cannot listen on 127.0.0.1:${port}: the port is in use — pick another --port, or --port 0 for any free one\n`,
  );
});
