/**
 * In-memory Smartlead account for the sandbox: leads, campaigns, membership and
 * the add-leads counters. Pure logic, no HTTP; the server translates to and from JSON.
 */

/** The ten keys Smartlead accepts in a `lead_list` item, in documented order. */
export const LEAD_KEYS = [
  "email",
  "first_name",
  "last_name",
  "phone_number",
  "company_name",
  "website",
  "location",
  "linkedin_profile",
  "company_url",
  "custom_fields",
] as const;

/** The string-valued lead fields other than `email`. */
export const TEXT_FIELDS = [
  "first_name",
  "last_name",
  "phone_number",
  "company_name",
  "website",
  "location",
  "linkedin_profile",
  "company_url",
] as const;
export type TextField = typeof TEXT_FIELDS[number];

/** One validated `lead_list` item. */
export type LeadInput =
  & { email: string; custom_fields?: Record<string, string> }
  & { [K in TextField]?: string };

export type SandboxLead =
  & {
    id: number;
    email: string;
    custom_fields: Record<string, string>;
    /** How many times its data was written by add or update. */
    writes: number;
    created_at: string;
  }
  & { [K in TextField]?: string };

export interface SandboxCampaign {
  id: number;
  name: string;
  status: string;
  created_at: string;
  /** Member lead ids in insertion order. */
  leadIds: number[];
  /** lead id → campaign_lead_map_id */
  mapIds: Map<number, number>;
}

export interface AddSettings {
  ignore_global_block_list?: boolean;
  ignore_unsubscribe_list?: boolean;
  ignore_community_bounce_list?: boolean;
  ignore_duplicate_leads_in_other_campaign?: boolean;
  return_lead_ids?: boolean;
}

export interface AddCounters {
  ok: true;
  upload_count: number;
  total_leads: number;
  skipped_in_other_campaign_count: number;
  block_count: number;
  duplicate_count: number;
  invalid_email_count: number;
  invalid_emails: string[];
  already_added_to_campaign: number;
  unsubscribed_leads: string[];
  is_lead_limit_exhausted: false;
  lead_import_stopped_count: 0;
  bounce_count: number;
  emailToLeadIdMap?: {
    newlyAddedLeads: Record<string, string>;
    existingLeads: Record<string, string>;
    existingLeadsInOtherCampaigns: Record<string, string>;
  };
}

export interface CreditsExhausted {
  ok: false;
  is_lead_limit_exhausted: true;
  lead_import_stopped_count: number;
  error: string;
}

export const FIRST_LEAD_ID = 2995276770;
export const FIRST_MAP_ID = 1800000001;
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function isValidEmail(email: string): boolean {
  return EMAIL_RE.test(email.trim());
}

export class SandboxState {
  /** All leads of the account, keyed by lower-cased email. */
  readonly leads: Map<string, SandboxLead> = new Map();
  readonly campaigns: Map<number, SandboxCampaign> = new Map();
  /** Lower-cased emails or bare domains on the global block list. */
  readonly blocklist: Set<string> = new Set();
  /** Lower-cased unsubscribed emails. */
  readonly unsubscribed: Set<string> = new Set();
  /** Remaining lead credits; null = unlimited. */
  credits: number | null;
  addCount = 0;
  updateCount = 0;
  deleteCount = 0;
  #nextLeadId = FIRST_LEAD_ID;
  #byId = new Map<number, SandboxLead>();
  #nextMapId = FIRST_MAP_ID;

  constructor(campaignIds: number[] = [1], credits: number | null = null) {
    this.credits = credits;
    const now = new Date().toISOString();
    for (const id of campaignIds) {
      this.campaigns.set(id, {
        id,
        name: `Sandbox campaign ${id}`,
        status: "ACTIVE",
        created_at: now,
        leadIds: [],
        mapIds: new Map(),
      });
    }
  }

  leadById(id: number): SandboxLead | undefined {
    // A cache by id, checked against `leads` (which callers may change directly) and rebuilt
    // on a miss: an update of a million-lead account is not a scan of every lead.
    let lead = this.#byId.get(id);
    if (lead !== undefined && this.leads.get(lead.email.toLowerCase()) === lead) return lead;
    this.#byId = new Map([...this.leads.values()].map((l) => [l.id, l]));
    lead = this.#byId.get(id);
    return lead;
  }

  /** Members of a campaign in insertion order (empty for an unknown campaign). */
  campaignLeads(campaignId: number): SandboxLead[] {
    const campaign = this.campaigns.get(campaignId);
    if (!campaign) return [];
    const byId = new Map([...this.leads.values()].map((l) => [l.id, l]));
    return campaign.leadIds.flatMap((id) => byId.get(id) ?? []);
  }

  /** Campaigns the lead belongs to, in campaign creation order. */
  campaignsOf(leadId: number): SandboxCampaign[] {
    return [...this.campaigns.values()].filter((c) => c.mapIds.has(leadId));
  }

  /** Apply an add-leads request; the campaign must exist. */
  addLeads(
    campaignId: number,
    list: LeadInput[],
    settings: AddSettings = {},
  ): AddCounters | CreditsExhausted {
    const campaign = this.#campaign(campaignId);
    this.addCount++;
    const out: AddCounters = {
      ok: true,
      upload_count: list.length,
      total_leads: 0,
      skipped_in_other_campaign_count: 0,
      block_count: 0,
      duplicate_count: 0,
      invalid_email_count: 0,
      invalid_emails: [],
      already_added_to_campaign: 0,
      unsubscribed_leads: [],
      is_lead_limit_exhausted: false,
      lead_import_stopped_count: 0,
      bounce_count: 0,
    };
    const ids = {
      newlyAddedLeads: {} as Record<string, string>,
      existingLeads: {} as Record<string, string>,
      existingLeadsInOtherCampaigns: {} as Record<string, string>,
    };
    if (settings.return_lead_ids) out.emailToLeadIdMap = ids;
    const seen = new Set<string>();
    for (const [index, item] of list.entries()) {
      const email = item.email.trim();
      const key = email.toLowerCase();
      if (!isValidEmail(email)) {
        out.invalid_email_count++;
        out.invalid_emails.push(item.email);
        continue;
      }
      if (!settings.ignore_global_block_list && this.#blocked(key)) {
        out.block_count++;
        continue;
      }
      if (!settings.ignore_unsubscribe_list && this.unsubscribed.has(key)) {
        out.unsubscribed_leads.push(item.email);
        continue;
      }
      if (seen.has(key)) {
        out.duplicate_count++;
        continue;
      }
      seen.add(key);
      const existing = this.leads.get(key);
      if (existing && campaign.mapIds.has(existing.id)) {
        out.already_added_to_campaign++;
        this.#write(existing, item);
        ids.existingLeads[email] = String(existing.id);
        continue;
      }
      if (existing) {
        ids.existingLeadsInOtherCampaigns[email] = String(existing.id);
        if (settings.ignore_duplicate_leads_in_other_campaign) {
          out.skipped_in_other_campaign_count++;
          continue;
        }
        this.#write(existing, item);
        this.#join(campaign, existing.id);
        out.total_leads++;
        continue;
      }
      if (this.credits === 0) {
        return {
          ok: false,
          is_lead_limit_exhausted: true,
          lead_import_stopped_count: list.length - index,
          error: "The lead credit limit has been reached, preventing any further lead imports.",
        };
      }
      if (this.credits !== null) this.credits--;
      const lead: SandboxLead = {
        id: this.#nextLeadId++,
        email,
        custom_fields: {},
        writes: 0,
        created_at: new Date().toISOString(),
      };
      this.#write(lead, item);
      this.leads.set(key, lead);
      this.#join(campaign, lead.id);
      out.total_leads++;
      ids.newlyAddedLeads[email] = String(lead.id);
    }
    return out;
  }

  /**
   * Update a campaign member: provided fields replaced, custom_fields merged.
   * Returns "not_found" when the lead is not in the campaign, "conflict" when the new
   * email belongs to another lead.
   */
  updateLead(
    campaignId: number,
    leadId: number,
    input: LeadInput,
  ): "ok" | "not_found" | "conflict" {
    const campaign = this.#campaign(campaignId);
    const lead = this.leadById(leadId);
    if (!lead || !campaign.mapIds.has(leadId)) return "not_found";
    const oldKey = lead.email.toLowerCase();
    const newKey = input.email.trim().toLowerCase();
    if (newKey !== oldKey) {
      if (this.leads.has(newKey)) return "conflict";
      this.leads.delete(oldKey);
      lead.email = input.email.trim();
      this.leads.set(newKey, lead);
    }
    this.#write(lead, input);
    this.updateCount++;
    return "ok";
  }

  /** Remove a lead from a campaign; drop it from the account if no campaign is left. */
  deleteLead(campaignId: number, leadId: number): boolean {
    const campaign = this.#campaign(campaignId);
    const lead = this.leadById(leadId);
    if (!lead || !campaign.mapIds.has(leadId)) return false;
    campaign.mapIds.delete(leadId);
    campaign.leadIds = campaign.leadIds.filter((id) => id !== leadId);
    if (this.campaignsOf(leadId).length === 0) this.leads.delete(lead.email.toLowerCase());
    this.deleteCount++;
    return true;
  }

  #campaign(id: number): SandboxCampaign {
    const campaign = this.campaigns.get(id);
    if (!campaign) throw new Error(`campaign ${id} does not exist`);
    return campaign;
  }

  #blocked(key: string): boolean {
    return this.blocklist.has(key) || this.blocklist.has(key.slice(key.indexOf("@") + 1));
  }

  #join(campaign: SandboxCampaign, leadId: number): void {
    campaign.leadIds.push(leadId);
    campaign.mapIds.set(leadId, this.#nextMapId++);
  }

  #write(lead: SandboxLead, input: LeadInput): void {
    for (const field of TEXT_FIELDS) {
      const value = input[field];
      if (value !== undefined) lead[field] = value;
    }
    if (input.custom_fields) {
      lead.custom_fields = { ...lead.custom_fields, ...input.custom_fields };
    }
    lead.writes++;
  }
}
