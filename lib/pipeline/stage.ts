/**
 * Stage: valid leads → the run's staging table in the index, where later rows for the same
 * email replace earlier ones. The payload is serialised once; its hash is the change key.
 */
import { payloadHash } from "../hash.ts";
import type { IndexStore, StagedLead } from "../index/store.ts";
import type { RunStats } from "./stats.ts";
import type { Checked } from "./validate.ts";

/** A valid lead as the store stages it: serialised once, hashed. */
export function toStaged(c: Extract<Checked, { ok: true }>): StagedLead {
  const payload = JSON.stringify(c.lead);
  return {
    email: c.lead.email,
    hash: payloadHash(payload),
    source: c.source,
    line: c.line,
    payload,
    leadId: null,
  };
}

/** Consumes the valid leads into the store; returns when the input is exhausted. */
export async function stageLeads(
  valid: AsyncIterable<Array<Extract<Checked, { ok: true }>>>,
  store: IndexStore,
  stats: RunStats,
): Promise<void> {
  let pending: StagedLead[] = [];
  for await (const batch of valid) {
    for (const c of batch) pending.push(toStaged(c));
    if (pending.length >= 4096) {
      store.stage(pending);
      pending = [];
    }
  }
  store.stage(pending);
  stats.duplicatesInInput = store.stagedTotal - store.stagedDistinct();
}
