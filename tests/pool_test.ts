import assert from "node:assert/strict";
import { runPool } from "../lib/pipeline/pool.ts";

/** A promise the test resolves (or rejects) when it chooses: no timers, no timing. */
interface Gate {
  promise: Promise<void>;
  open: () => void;
  fail: (e: unknown) => void;
}
function gate(): Gate {
  let open!: () => void;
  let fail!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => ((open = () => res()), (fail = rej)));
  return { promise, open, fail };
}

/** Lets every already-settled promise callback run. */
const settle = () => new Promise((r) => setTimeout(r, 0));

Deno.test("runPool keeps at most `limit` in flight and runs every item", async () => {
  const gates = new Map<number, Gate>();
  const started: number[] = [];
  const done: number[] = [];
  const run = runPool([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
    started.push(n);
    const g = gate();
    gates.set(n, g);
    await g.promise;
    done.push(n);
  });
  await settle();
  assert.deepEqual(started, [1, 2, 3]);
  gates.get(2)!.open();
  await settle();
  assert.deepEqual(started, [1, 2, 3, 4]);
  for (const n of [1, 3, 4]) gates.get(n)!.open();
  await settle();
  assert.deepEqual(started, [1, 2, 3, 4, 5, 6, 7]);
  for (const n of [5, 6, 7]) gates.get(n)!.open();
  await run;
  assert.deepEqual(done, [2, 1, 3, 4, 5, 6, 7]);
});

Deno.test("runPool: after a failure no new item starts, in-flight ones finish, the first error is thrown", async () => {
  const started: number[] = [];
  const finished: number[] = [];
  const gates = new Map<number, Gate>();
  const items = (function* () {
    for (let i = 1; i <= 10; i++) yield i;
  })();
  const run = runPool(items, 2, async (n) => {
    started.push(n);
    const g = gate();
    gates.set(n, g);
    await g.promise;
    finished.push(n);
  });
  await settle();
  assert.deepEqual(started, [1, 2]);
  gates.get(1)!.fail(new Error("boom 1"));
  await settle();
  // 1 failed: nothing new starts while 2 is still in flight.
  assert.deepEqual(started, [1, 2]);
  gates.get(2)!.open();
  await assert.rejects(run, { message: "boom 1" });
  assert.deepEqual(started, [1, 2]);
  assert.deepEqual(finished, [2]);
});

Deno.test("runPool: an item source that throws (a stop request) lets the items in flight finish", async () => {
  const finished: number[] = [];
  const gates = new Map<number, Gate>();
  let stop = false;
  const items = (function* () {
    for (let i = 1; i <= 10; i++) {
      if (stop) throw new Error("stopped");
      yield i;
    }
  })();
  const run = runPool(items, 2, async (n) => {
    const g = gate();
    gates.set(n, g);
    await g.promise;
    finished.push(n);
  });
  await settle();
  stop = true;
  gates.get(1)!.open();
  await settle();
  // Taking item 3 threw: 2 is still in flight and finishes.
  assert.deepEqual(finished, [1]);
  gates.get(2)!.open();
  await assert.rejects(run, { message: "stopped" });
  assert.deepEqual(finished, [1, 2]);
  assert.equal(gates.size, 2);
});
