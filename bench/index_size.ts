/**
 * The index's size per million leads before and after field sets (schema 2 → 3): the same
 * leads written into an index of each schema, plus one migrated from 2 and backfilled the way
 * a first run after the upgrade does it. Not a test. Usage:
 *   deno run --allow-all bench/index_size.ts [--leads N]
 */
import { DatabaseSync } from "node:sqlite";
import { MIGRATIONS } from "../lib/index/store.ts";

const MB = 1024 * 1024;
const out = (line: string) => Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
const argv = Deno.args;
const at = argv.indexOf("--leads");
const leads = at >= 0 ? Number(argv[at + 1]) : 1_000_000;
if (!Number.isInteger(leads) || leads < 1) throw new Error("--leads needs a positive integer");

/** A fresh index file with the first `steps` migrations applied. */
function create(path: string, steps: number): DatabaseSync {
  const db = new DatabaseSync(path);
  db.exec("pragma journal_mode = delete");
  for (const sql of MIGRATIONS.slice(0, steps)) db.exec(sql);
  return db;
}

/** Fills `leads` rows like a synced campaign: emails ~35 bytes, 16-hex hashes, ids, times. */
function fill(db: DatabaseSync, fieldSets: boolean): void {
  if (fieldSets) {
    db.exec(`insert into field_sets(names) values
      ('[["first_name","last_name","company_name"],["Title"]]'),
      ('[["first_name","last_name","company_name","website"],["Title","tags"]]'),
      ('[["first_name","company_name"],[]]')`);
  }
  db.exec(`with recursive n(i) as (select 0 union all select i + 1 from n where i < ${leads - 1})
    insert into leads(email, hash, lead_id, status, reason, first_synced_at, last_synced_at,
      updated_at, origin${fieldSets ? ", field_set" : ""})
    select 'person.' || i || '@company' || (i % 5000) || '.example.com',
      printf('%016x', (i * 2654435761) % 9223372036854775807), 2995276770 + i, 'synced', null,
      1767225600000 + i, 1767225600000 + i, 1767225600000 + i, 'tool'
      ${fieldSets ? ", 1 + i % 3" : ""}
    from n`);
}

function size(path: string): number {
  return Deno.statSync(path).size;
}

const dir = await Deno.makeTempDir({ prefix: "smartlead-sync-index-size-" });
try {
  const rows: Array<[string, number]> = [];
  const v2 = `${dir}/v2.db`;
  let db = create(v2, 2);
  fill(db, false);
  db.close();
  rows.push(["schema 2 (before): no field sets", size(v2)]);

  const v3 = `${dir}/v3.db`;
  db = create(v3, 3);
  fill(db, true);
  db.close();
  rows.push(["schema 3 (after): every lead with a field set", size(v3)]);

  // An upgraded index: migrated, then backfilled as the first run after the upgrade does.
  const up = `${dir}/upgraded.db`;
  await Deno.copyFile(v2, up);
  db = new DatabaseSync(up);
  db.exec(MIGRATIONS[2]!);
  rows.push(["schema 2 migrated to 3, before the first run", size(up)]);
  db.exec(`insert into field_sets(names) values ('[["first_name"],["Title"]]')`);
  db.exec("update leads set field_set = 1");
  rows.push(["... after the first run (free pages kept)", size(up)]);
  db.exec("vacuum");
  db.close();
  rows.push(["... after vacuum", size(up)]);

  const perMillion = (bytes: number) => (bytes / leads * 1e6 / MB).toFixed(1);
  out(`index size per million leads (${leads.toLocaleString("en-US")} leads written):`);
  for (const [what, bytes] of rows) {
    out(`  ${what.padEnd(48)} ${perMillion(bytes).padStart(7)} MB`);
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
