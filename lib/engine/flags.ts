/**
 * The eight flag bits the planner keeps per email in the fingerprint table.
 *
 *   bits 0-1  the index's status: none (not indexed), synced, rejected (refused), pending
 *   bit 2     the index has a lead id for the email
 *   bit 3     KEEP: a row rejected for another reason than its email had it (not absent)
 *   bit 4     ACTIVE: a row of this email is in an open batch or in flight
 *   bit 5     SENT: Smartlead answered for this email in this run (synced or refused)
 *   bits 6-7  the category the email is counted under: add, update, unchanged, skip
 */
import type { LeadStatus } from "../index/store.ts";

export const STATUS_MASK = 0b11;
export const STATUS_NONE = 0;
export const STATUS_SYNCED = 1;
export const STATUS_REJECTED = 2;
export const STATUS_PENDING = 3;
export const HAS_LEAD_ID = 1 << 2;
export const KEEP = 1 << 3;
export const ACTIVE = 1 << 4;
export const SENT = 1 << 5;
export const CAT_SHIFT = 6;
export const CAT_MASK = 0b11 << CAT_SHIFT;
export const CAT_ADD = 0;
export const CAT_UPDATE = 1;
export const CAT_UNCHANGED = 2;
export const CAT_SKIP = 3;

/** The status bits of an index status. */
export function statusBits(status: LeadStatus | string): number {
  if (status === "synced") return STATUS_SYNCED;
  if (status === "rejected") return STATUS_REJECTED;
  if (status === "pending") return STATUS_PENDING;
  return STATUS_NONE;
}
