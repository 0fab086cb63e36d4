/**
 * Where the dry-run time goes: runs the push pipeline's stages cumulatively over one file,
 * in this process, and prints each stage's added cost. `store.stage()` and `plan()` are
 * also timed alone on pre-built rows.
 *
 * Usage: deno run -A bench/profile.ts FILE [--store PATH_OF_A_SYNCED_INDEX]
 */
import { payloadHash } from "../lib/hash.ts";
import { IndexStore, type StagedLead } from "../lib/index/store.ts";
import { readRows } from "../lib/input/parse.ts";
import { resolveInputs } from "../lib/input/source.ts";
import { divertRejects, RejectsWriter } from "../lib/pipeline/rejects.ts";
import { stageLeads, toStaged } from "../lib/pipeline/stage.ts";
import { RunStats } from "../lib/pipeline/stats.ts";
import { validateRows } from "../lib/pipeline/validate.ts";

export interface StageTimes {
  rows: number;
  /** Cumulative wall times in ms, each a full pass over the file. */
  parse: number;
  validate: number;
  serialise: number;
  stage: number;
  plan: number;
  /** Alone, on rows built in memory beforehand. */
  stageAlone: number;
  planAlone: number;
  hashAlone: number;
  stringifyAlone: number;
}

const plannedOpts = { fullRefresh: false, retryRejected: false, deleteMissing: false };

/** Times the stages over `file`; `index` is an existing index to plan against (read-only). */
export async function profileStages(file: string, index?: string): Promise<StageTimes> {
  const inputs = await resolveInputs([file]);
  const valid = async () =>
    divertRejects(
      validateRows(readRows(inputs), { map: [], tags: [] }),
      await RejectsWriter.open(undefined),
      new RunStats(),
    );
  const open = () => index ? new IndexStore(index, { readOnly: true }) : new IndexStore(":memory:");

  let t = performance.now();
  let rows = 0;
  for await (const b of readRows(inputs)) rows += b.filter((r) => !r.header).length;
  const parse = performance.now() - t;

  t = performance.now();
  for await (const _ of await valid()) {
    // drain
  }
  const validate = performance.now() - t;

  t = performance.now();
  const staged: StagedLead[] = [];
  for await (
    const batch of await valid()
  ) {
    for (const c of batch) staged.push(toStaged(c));
  }
  const serialise = performance.now() - t;

  t = performance.now();
  let store = open();
  await stageLeads(await valid(), store, new RunStats());
  const stage = performance.now() - t;
  t = performance.now();
  store.plan(plannedOpts);
  const plan = performance.now() - t;
  store.close();

  store = open();
  t = performance.now();
  for (let i = 0; i < staged.length; i += 4096) store.stage(staged.slice(i, i + 4096));
  store.stagedDistinct();
  const stageAlone = performance.now() - t;
  t = performance.now();
  store.plan(plannedOpts);
  const planAlone = performance.now() - t;
  store.close();

  t = performance.now();
  let x = 0;
  for (const s of staged) x ^= payloadHash(s.payload).length;
  const hashAlone = performance.now() - t;
  const leads = staged.map((s) => JSON.parse(s.payload) as unknown);
  t = performance.now();
  for (const l of leads) x ^= JSON.stringify(l).length;
  const stringifyAlone = performance.now() - t;
  if (x === -1) throw new Error("unreachable");

  return {
    rows,
    parse,
    validate,
    serialise,
    stage,
    plan,
    stageAlone,
    planAlone,
    hashAlone,
    stringifyAlone,
  };
}

if (import.meta.main) {
  const file = Deno.args[0];
  if (file === undefined) throw new Error("usage: profile.ts FILE [--store INDEX]");
  const i = Deno.args.indexOf("--store");
  const r = await profileStages(file, i >= 0 ? Deno.args[i + 1] : undefined);
  await Deno.stdout.write(new TextEncoder().encode(JSON.stringify(r, null, 2) + "\n"));
}
