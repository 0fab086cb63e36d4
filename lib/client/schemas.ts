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

/**
 * One entry of `GET /campaigns/{id}/leads` that names a lead. `lead` and `lead.email` may be
 * null (official CLI schema): such entries fail this schema and are skipped, not the page.
 */
export const RosterEntrySchema = z.looseObject({
  campaign_lead_map_id: numberish.nullish(),
  status: z.string().nullish(),
  lead: z.looseObject({
    id: numberish,
    email: z.string().min(1),
  }),
});
export type RosterEntry = z.infer<typeof RosterEntrySchema>;

/** A page of the campaign roster; `total_leads` arrives as a string; entries checked one by one. */
export const RosterPageSchema = z.looseObject({
  total_leads: numberish.nullish(),
  offset: numberish.nullish(),
  limit: numberish.nullish(),
  data: z.array(z.unknown()),
});
export type RosterPage = z.infer<typeof RosterPageSchema>;

/**
 * `GET /leads/?email=`: the lead and its campaigns; an unknown email answers `{}` (no id).
 * `lead_campaign_data` is read only when it is an array of entries with a campaign id.
 */
export const LeadLookupSchema = z.looseObject({
  id: numberish,
  email: z.string().nullish(),
  lead_campaign_data: z.array(z.looseObject({ campaign_id: numberish })).nullish().catch(
    undefined,
  ),
});
export type LeadLookup = z.infer<typeof LeadLookupSchema>;

/** `GET /leads/?email=`: the lead and its campaigns; an unknown email answers `{}`. */
export const LeadByEmailSchema = z.looseObject({
  id: numberish.nullish(),
  lead_campaign_data: z.array(z.looseObject({ campaign_id: numberish.nullish() })).nullish(),
});

/** `POST /campaigns/{cid}/leads/{id}` answers `{"ok":true}`. */
export const OkSchema = z.looseObject({ ok: z.boolean().optional() });
