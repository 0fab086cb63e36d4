/** Unit tests of the guard rails' arithmetic (the end-to-end behaviour is in guard_rails_e2e). */
import assert from "node:assert/strict";
import { UsageError } from "../lib/errors.ts";
import {
  checkDeletes,
  checkMirror,
  checkRejects,
  DeleteLimitError,
  parseLimit,
} from "../lib/pipeline/guard_rails.ts";

Deno.test("parseLimit reads N and P%, and refuses anything else naming the flag", () => {
  assert.deepEqual(parseLimit("--max-deletes", "250"), { count: 250 });
  assert.deepEqual(parseLimit("--max-deletes", 0), { count: 0 });
  assert.deepEqual(parseLimit("--max-deletes", " 5% "), { percent: 5 });
  assert.deepEqual(parseLimit("--max-deletes", "2.5%"), { percent: 2.5 });
  assert.deepEqual(parseLimit("--max-deletes", "100%"), { percent: 100 });
  for (const bad of ["", "-1", "1.5", "101%", "ten", "5 %x", "%"]) {
    assert.throws(() => parseLimit("--max-rejects", bad), (e) => {
      assert.ok(e instanceof UsageError);
      assert.equal(
        e.message,
        `--max-rejects ${
          JSON.stringify(bad)
        }: expected a whole number (e.g. 50) or a percentage from 0% to 100% (e.g. 5%)`,
      );
      return true;
    });
  }
});

Deno.test("the default deletion limit: 10% of the indexed leads, and never more than 1,000", () => {
  checkDeletes(0, 0, undefined);
  checkDeletes(1, 10, undefined);
  assert.throws(() => checkDeletes(2, 10, undefined), DeleteLimitError);
  assert.throws(() => checkDeletes(1, 9, undefined), DeleteLimitError); // 10% of 9 is 0
  checkDeletes(1000, 20_000, undefined);
  assert.throws(() => checkDeletes(1001, 20_000, undefined), (e) => {
    assert.ok(e instanceof DeleteLimitError);
    assert.equal(e.exitCode, 8);
    assert.equal(
      e.message,
      "the plan deletes 1,001 of 20,000 indexed leads (5%); the default limit (10% of the indexed " +
        "leads, at most 1,000) allows 1,000; nothing was written",
    );
    assert.match(e.hint!, /run again with --max-deletes 1001 \(or --max-deletes 6%\)$/);
    return true;
  });
});

Deno.test("--max-deletes replaces the default, as a count or a share", () => {
  checkDeletes(5000, 20_000, { count: 5000 });
  assert.throws(() => checkDeletes(5001, 20_000, { count: 5000 }), DeleteLimitError);
  checkDeletes(5000, 20_000, { percent: 25 });
  assert.throws(() => checkDeletes(5001, 20_000, { percent: 25 }), DeleteLimitError);
  checkDeletes(7, 7, { percent: 100 });
  // The suggested percentage is exact in integer arithmetic: 7 of 100 is 7%, not 8%.
  assert.throws(() => checkDeletes(7, 100, { count: 1 }), (e) => {
    assert.match((e as DeleteLimitError).hint!, /--max-deletes 7 \(or --max-deletes 7%\)$/);
    return true;
  });
});

Deno.test("rejects: by default only when every row is; with --max-rejects when more than it", () => {
  checkRejects(0, 0, undefined, undefined);
  checkRejects(5, 4, undefined, undefined);
  const first = { source: "a.csv", line: 2, reason: "email is empty" };
  assert.throws(() => checkRejects(5, 5, undefined, first), (e) => {
    assert.ok(e instanceof UsageError);
    assert.equal(
      e.message,
      "every row was rejected (5 of 5) (first: a.csv: line 2: email is empty); nothing was written",
    );
    return true;
  });
  checkRejects(10, 2, { count: 2 }, first);
  assert.throws(() => checkRejects(10, 3, { count: 2 }, first), UsageError);
  checkRejects(10, 3, { percent: 30 }, first);
  assert.throws(() => checkRejects(10, 4, { percent: 30 }, first), UsageError);
  checkRejects(10, 10, { percent: 100 }, first);
});

Deno.test("no valid row: a mirror is refused, a plain incremental run is not", () => {
  checkMirror(0, { deleteMissing: false, fullRefresh: false });
  checkMirror(1, { deleteMissing: true, fullRefresh: true });
  assert.throws(() => checkMirror(0, { deleteMissing: true, fullRefresh: false }), UsageError);
  assert.throws(() => checkMirror(0, { deleteMissing: false, fullRefresh: true }), UsageError);
});

Deno.test("the removal limit words what the plan does: pauses and unsubscribes count like deletes", () => {
  checkDeletes(2, 20, undefined, "pause");
  assert.throws(() => checkDeletes(3, 20, undefined, "pause"), (e) => {
    assert.ok(e instanceof DeleteLimitError);
    assert.match(e.message, /^the plan pauses 3 of 20 indexed leads \(15%\);/);
    assert.match(e.hint!, /if these pauses are intended, run again with --max-deletes 3 /);
    return true;
  });
  assert.throws(() => checkDeletes(5, 20, { count: 4 }, "unsubscribe"), (e) => {
    assert.match((e as DeleteLimitError).message, /^the plan unsubscribes 5 of 20 indexed leads/);
    return true;
  });
});

Deno.test("no valid row: --missing pause and unsubscribe are refused like --delete-missing", () => {
  checkMirror(0, { missing: "ignore", fullRefresh: false });
  for (const missing of ["pause", "unsubscribe", "delete"] as const) {
    checkMirror(1, { missing, fullRefresh: false });
    assert.throws(() => checkMirror(0, { missing, fullRefresh: false }), (e) => {
      assert.ok(e instanceof UsageError);
      const flag = missing === "delete" ? "--delete-missing" : `--missing ${missing}`;
      assert.ok(e.message.startsWith(`the input has no valid row, so ${flag} would treat`));
      return true;
    });
  }
});
