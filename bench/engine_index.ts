/**
 * Indexes for the engine benchmarks, built once and kept in bench/data:
 * - `ensureSyncedIndex(csv, db)`: every valid lead of a CSV recorded as synced, through the
 *   current code (validateRows → toStaged → IndexStore.record), i.e. the index a full push of
 *   that file leaves: a rerun of the file must find every lead unchanged;
 * - `ensureSyntheticIndex(n, db)`: n synced leads `lead<i>@example.com` with random hashes,
 *   for index sizes no test file reaches (10M).
 */
import { IndexStore } from "../lib/index/store.ts";
import { readRows } from "../lib/input/parse.ts";
import { resolveInputs } from "../lib/input/source.ts";
import { hashHex } from "../lib/engine/fingerprint.ts";
import { toStaged } from "../lib/pipeline/stage.ts";
import { validateRows } from "../lib/pipeline/validate.ts";

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

async function build(db: string, fill: (store: IndexStore) => Promise<number>): Promise<number> {
  const tmp = `${db}.building`;
  await Deno.remove(tmp).catch(() => {});
  const store = new IndexStore(tmp);
  const n = await fill(store);
  store.db.exec("pragma wal_checkpoint(truncate)");
  store.close();
  await Deno.rename(tmp, db);
  await Deno.remove(`${tmp}-wal`).catch(() => {});
  await Deno.remove(`${tmp}-shm`).catch(() => {});
  return n;
}

type Outcome = Parameters<IndexStore["record"]>[0][number];

export async function ensureSyncedIndex(csv: string, db: string): Promise<boolean> {
  if (await exists(db)) return false;
  await build(db, async (store) => {
    let pending: Outcome[] = [];
    let n = 0;
    for await (
      const batch of validateRows(readRows(await resolveInputs([csv])), { map: [], tags: [] })
    ) {
      for (const c of batch) {
        if (!c.ok) continue;
        const s = toStaged(c);
        pending.push({
          email: s.email,
          hash: s.hash,
          status: "synced",
          origin: "tool",
          leadId: ++n,
        });
      }
      if (pending.length >= 20_000) {
        store.record(pending);
        pending = [];
      }
    }
    store.record(pending);
    return n;
  });
  return true;
}

export async function ensureSyntheticIndex(n: number, db: string): Promise<boolean> {
  if (await exists(db)) return false;
  await build(db, (store) => {
    let seed = 12345;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    for (let i = 0; i < n; i += 50_000) {
      const batch: Outcome[] = [];
      for (let j = i; j < Math.min(n, i + 50_000); j++) {
        batch.push({
          email: `lead${j}@example.com`,
          hash: hashHex(rnd(), rnd()),
          status: "synced",
          origin: "tool",
          leadId: j + 1,
        });
      }
      store.record(batch);
    }
    return Promise.resolve(n);
  });
  return true;
}
