/**
 * zod schemas for every Smartlead answer the code reads. They are lenient where Smartlead
 * is inconsistent (numbers as strings, missing counters) and keep unknown keys.
 */
import { z } from "zod";

const numberish = z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]);

/** `GET /campaigns/{id}`: a campaign has an id; a body without one means "not found". */
export const CampaignSchema = z.looseObject({
  id: numberish,
  name: z.string().nullish(),
  status: z.string().nullish(),
});
export type Campaign = z.infer<typeof CampaignSchema>;

/**
 * `GET /campaigns`: its shape is not documented. Read leniently: an array of campaigns, or an
 * object wrapping one (`{"data": [...]}`, `{"campaigns": [...]}`, one level deeper at most).
 * Entries without an id are left out; undefined when no such array is found.
 */
export function campaignList(body: unknown, depth = 0): Campaign[] | undefined {
  if (Array.isArray(body)) {
    const out: Campaign[] = [];
    for (const item of body) {
      const parsed = CampaignSchema.safeParse(item);
      if (parsed.success) out.push(parsed.data);
    }
    return body.length > 0 && out.length === 0 ? undefined : out;
  }
  if (body === null || typeof body !== "object" || depth >= 2) return undefined;
  // The first array that holds campaigns; an empty one only when no array holds any.
  let empty: Campaign[] | undefined;
  for (const value of Object.values(body)) {
    if (value === null || typeof value !== "object") continue;
    const list = campaignList(value, depth + 1);
    if (list !== undefined && list.length > 0) return list;
    empty ??= list;
  }
  return empty;
}

const emailMap = z.record(z.string(), z.union([z.string(), z.number()])).nullish();

/** `POST /campaigns/{id}/leads`: counters vary between API generations, so all are kept. */
export const AddLeadsResponseSchema = z.looseObject({
  ok: z.boolean().optional(),
  upload_count: z.number().optional(),
  total_leads: z.number().optional(),
  invalid_emails: z.array(z.unknown()).nullish(),
  unsubscribed_leads: z.array(z.unknown()).nullish(),
  is_lead_limit_exhausted: z.boolean().optional(),
  lead_import_stopped_count: z.number().optional(),
  error: z.string().optional(),
  emailToLeadIdMap: z.looseObject({
    newlyAddedLeads: emailMap,
    existingLeads: emailMap,
    existingLeadsInOtherCampaigns: emailMap,
  }).nullish(),
});
export type AddLeadsResponse = z.infer<typeof AddLeadsResponseSchema>;

/** One entry of `GET /campaigns/{id}/leads`. */
export const RosterEntrySchema = z.looseObject({
  campaign_lead_map_id: numberish.nullish(),
  status: z.string().nullish(),
  lead: z.looseObject({
    id: numberish,
    email: z.string(),
  }),
});
export type RosterEntry = z.infer<typeof RosterEntrySchema>;

/** A page of the campaign roster; `total_leads` arrives as a string. */
export const RosterPageSchema = z.looseObject({
  total_leads: numberish.nullish(),
  offset: numberish.nullish(),
  limit: numberish.nullish(),
  data: z.array(RosterEntrySchema),
});
export type RosterPage = z.infer<typeof RosterPageSchema>;

/** `POST /campaigns/{cid}/leads/{id}` answers `{"ok":true}`. */
export const OkSchema = z.looseObject({ ok: z.boolean().optional() });

/** Every numeric counter of an add-leads answer, whatever its name. */
export function numericCounters(body: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(body)) {
    if (typeof v === "number" && Number.isFinite(v)) out[k] = v;
  }
  return out;
}

/** Strings out of Smartlead's `invalid_emails` / `unsubscribed_leads` arrays. */
export function emailsIn(list: readonly unknown[] | null | undefined): string[] {
  const out: string[] = [];
  for (const item of list ?? []) {
    if (typeof item === "string") out.push(item);
    else if (item && typeof item === "object" && "email" in item) {
      const e = (item as { email: unknown }).email;
      if (typeof e === "string") out.push(e);
    }
  }
  return out;
}
