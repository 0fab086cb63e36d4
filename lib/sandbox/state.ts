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
  /** lead id → the lead's status in this campaign (`STARTED`, `PAUSED`, ...). */
  statuses: Map<number, LeadStatus>;
}

/**
 * A lead's status in a campaign, as the roster and the export show it. `STARTED`: imported,
 * never emailed (what a new lead gets); `STOPPED` here also stands for "unsubscribed from
 * this campaign" (Smartlead's own word for that state is not documented).
 */
export type LeadStatus =
  | "STARTED"
  | "INPROGRESS"
  | "COMPLETED"
  | "PAUSED"
  | "STOPPED"
  | "BLOCKED";

/** What `POST /campaigns/{cid}/leads/{id}/pause|resume|unsubscribe` does. */
export type LeadAction = "pause" | "resume" | "unsubscribe";

/** A change made as a person would in Smartlead's UI: `null` clears a field. */
export interface LeadEdit {
  fields?: { [K in TextField]?: string | null };
  custom_fields?: Record<string, string | null>;
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
  /** Pause, resume and unsubscribe requests applied. */
  statusCount = 0;
  /**
   * Entries every roster page and export adds after the real leads: `lead: null`, and a
   * lead whose `email` is null (the official CLI's schema allows both).
   */
  rosterNulls: { lead: number; email: number } = { lead: 0, email: 0 };
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
        statuses: new Map(),
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
    campaign.statuses.delete(leadId);
    campaign.leadIds = campaign.leadIds.filter((id) => id !== leadId);
    if (this.campaignsOf(leadId).length === 0) this.leads.delete(lead.email.toLowerCase());
    this.deleteCount++;
    return true;
  }

  /** The lead's status in the campaign; undefined when it is not a member. */
  statusOf(campaignId: number, leadId: number): LeadStatus | undefined {
    return this.campaigns.get(campaignId)?.statuses.get(leadId);
  }

  /**
   * Pause, resume or unsubscribe a campaign member. A paused lead resumes `INPROGRESS`;
   * resuming a lead that is not paused changes nothing; an unsubscribed lead is `STOPPED`
   * and stays so (there is no way back through the API). "not_found": not a member.
   */
  setLeadStatus(campaignId: number, leadId: number, action: LeadAction): "ok" | "not_found" {
    const campaign = this.#campaign(campaignId);
    const status = campaign.statuses.get(leadId);
    if (status === undefined) return "not_found";
    this.statusCount++;
    if (action === "pause" && status !== "STOPPED") campaign.statuses.set(leadId, "PAUSED");
    else if (action === "resume" && status === "PAUSED") {
      campaign.statuses.set(leadId, "INPROGRESS");
    } else if (action === "unsubscribe") campaign.statuses.set(leadId, "STOPPED");
    return "ok";
  }

  /**
   * Edits a lead's data as a person would in Smartlead's UI (not counted in `writes`):
   * given fields are set, `null` clears one. Returns false for an unknown email.
   */
  editLead(email: string, edit: LeadEdit): boolean {
    const lead = this.leads.get(email.trim().toLowerCase());
    if (!lead) return false;
    for (const [field, value] of Object.entries(edit.fields ?? {})) {
      if (!(TEXT_FIELDS as readonly string[]).includes(field)) continue;
      if (value === null || value === undefined) delete lead[field as TextField];
      else lead[field as TextField] = value;
    }
    for (const [key, value] of Object.entries(edit.custom_fields ?? {})) {
      if (value === null) delete lead.custom_fields[key];
      else lead.custom_fields[key] = value;
    }
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
    campaign.statuses.set(leadId, "STARTED");
  }

  /**
   * Removes a lead the way Smartlead's UI does, behind any index's back: from one campaign
   * (and from the account when it is in no other), or from the account and every campaign.
   * Its id then names no member. Returns false for an unknown email.
   */
  removeLead(email: string, campaignId?: number): boolean {
    const lead = this.leads.get(email.trim().toLowerCase());
    if (!lead) return false;
    for (const c of this.campaigns.values()) {
      if (campaignId !== undefined && c.id !== campaignId) continue;
      c.mapIds.delete(lead.id);
      c.leadIds = c.leadIds.filter((id) => id !== lead.id);
    }
    if (this.campaignsOf(lead.id).length === 0) this.leads.delete(lead.email.toLowerCase());
    return true;
  }

  /**
   * Writes a lead's data, by add (re-adding overwrites) or update: given fields replace,
   * `""` clears one (what smartlead-sync sends for a value emptied in its source), custom
   * fields merge key by key.
   */
  #write(lead: SandboxLead, input: LeadInput): void {
    for (const field of TEXT_FIELDS) {
      const value = input[field];
      if (value === "") delete lead[field];
      else if (value !== undefined) lead[field] = value;
    }
    if (input.custom_fields) {
      const merged = { ...lead.custom_fields, ...input.custom_fields };
      for (const [k, v] of Object.entries(input.custom_fields)) if (v === "") delete merged[k];
      lead.custom_fields = merged;
    }
    lead.writes++;
  }
}
