import assert from "node:assert/strict";
import { runPool } from "../lib/pipeline/pool.ts";

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("runPool keeps at most `limit` in flight and runs every item", async () => {
  let inFlight = 0;
  let peak = 0;
  const done: number[] = [];
  await runPool([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    await tick(5 + (n % 3) * 5);
    done.push(n);
    inFlight--;
  });
  assert.equal(peak, 3);
  assert.deepEqual(done.toSorted(), [1, 2, 3, 4, 5, 6, 7]);
});

Deno.test("runPool: after a failure no new item starts, in-flight ones finish, the first error is thrown", async () => {
  const started: number[] = [];
  const finished: number[] = [];
  const items = (function* () {
    for (let i = 1; i <= 10; i++) yield i;
  })();
  await assert.rejects(
    runPool(items, 2, async (n) => {
      started.push(n);
      await tick(n === 1 ? 1 : 20);
      if (n === 1) throw new Error("boom 1");
      if (n === 3) throw new Error("boom 3");
      finished.push(n);
    }),
    { message: "boom 1" },
  );
  // 1 fails first; 2 was in flight and finishes; nothing after starts.
  assert.deepEqual(started, [1, 2]);
  assert.deepEqual(finished, [2]);
});

Deno.test("runPool: an item source that throws (a stop request) lets the items in flight finish", async () => {
  const finished: number[] = [];
  let stop = false;
  const items = (function* () {
    for (let i = 1; i <= 10; i++) {
      if (stop) throw new Error("stopped");
      yield i;
    }
  })();
  await assert.rejects(
    runPool(items, 2, async (n) => {
      if (n === 2) stop = true;
      await tick(10);
      finished.push(n);
    }),
    { message: "stopped" },
  );
  assert.deepEqual(finished.toSorted(), [1, 2]);
});
