/**
 * The one module that talks HTTP to Smartlead: base URL, the `api_key` query parameter and
 * its redaction, User-Agent, timeouts, the client-side rate limiter, retries with
 * exponential backoff and jitter, and `Retry-After`. Redirects are never followed, answers
 * are read up to a size cap, and every wait ends when the run is asked to stop
 * (`lib/client/transport.ts`).
 */
import type { z } from "zod";
import { AuthError, CampaignNotFoundError, SyncError, UnavailableError } from "../errors.ts";
import { escapeControl } from "../escape.ts";
import { clip, redact, registerSecret, withoutCredentials } from "../redact.ts";
import { VERSION } from "../version.ts";
import { RateLimiter, type Sleep } from "./rate_limiter.ts";
import {
  abortableSleep,
  BodyTooLarge,
  checkBaseUrl,
  DEFAULT_MAX_BODY_BYTES,
  describeFetchFailure,
  isPermissionDenied,
  permissionError,
  readCapped,
  redirectError,
  timerSleep,
  tooLarge,
} from "./transport.ts";
import {
  type Campaign,
  campaignList,
  CampaignSchema,
  LeadByEmailSchema,
  LeadLookupSchema,
  OkSchema,
  type RosterEntry,
  RosterEntrySchema,
  RosterPageSchema,
} from "./schemas.ts";
import {
  type AddAnswer,
  classifyLeadWrite,
  isLeadWriteVerdict,
  isLimitExhausted,
  type LeadWrite,
  readAddAnswer,
} from "./answers.ts";
import { isStaleLeadIdAnswer } from "./stale_id.ts";
import { plural } from "../plural.ts";

export const DEFAULT_BASE_URL = "https://server.smartlead.ai/api/v1";
/** The request budget when `--rate` is not given. */
export const DEFAULT_RATE = { requests: 10, windowMs: 2000 };

/** The ten keys Smartlead accepts for a lead; anything else is a 400. */
export interface LeadPayload {
  email: string;
  first_name?: string;
  last_name?: string;
  phone_number?: string;
  company_name?: string;
  website?: string;
  location?: string;
  linkedin_profile?: string;
  company_url?: string;
  custom_fields?: Record<string, string>;
}

/** The `settings` object of an add-leads request. */
export interface AddLeadsSettings {
  ignore_global_block_list?: boolean;
  ignore_unsubscribe_list?: boolean;
  ignore_community_bounce_list?: boolean;
  ignore_duplicate_leads_in_other_campaign?: boolean;
  return_lead_ids?: boolean;
}

export interface ClientOptions {
  apiKey: string;
  baseUrl?: string;
  rate?: { requests: number; windowMs: number };
  timeoutMs?: number;
  maxAttempts?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Request/response lines for `--debug`; already redacted. */
  debug?: (line: string) => void;
  sleep?: Sleep;
  /**
   * Ends every wait (rate limit, `Retry-After`, backoff) at once with `InterruptedError`
   * when it aborts; a request already sent still gets its answer.
   */
  signal?: AbortSignal;
  /** Allow a plain `http://` base URL for a host other than loopback (the key goes in clear). */
  allowInsecureHttp?: boolean;
  /** The most of an answer read before giving up (default 8 MB); not for the export. */
  maxBodyBytes?: number;
  /** How long `GET /campaigns/{id}/leads-export` may take, body included (default 600 s). */
  exportTimeoutMs?: number;
}

/** What `POST /campaigns/{cid}/leads/{id}/<action>` does to a lead in the campaign. */
export type LeadAction = "pause" | "resume" | "unsubscribe";

/** The export could not be used; the caller pages the roster instead. */
export class ExportUnavailable extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "ExportUnavailable";
  }
}

/** A non-2xx answer that retrying will not fix (400, 404, 422...). */
export class SmartleadRequestError extends SyncError {
  constructor(readonly status: number, readonly body: string, message: string) {
    super(message);
  }
}

/** Whether `e` is Smartlead saying that a lead id is not in the campaign (`stale_id.ts`). */
export function isStaleLeadIdError(e: unknown): boolean {
  return e instanceof SmartleadRequestError && isStaleLeadIdAnswer(e.status, tryJson(e.body));
}

interface Answer {
  status: number;
  text: string;
  json: unknown;
  /** An earlier attempt may have been applied (no answer, a timeout or a 5xx). */
  resent: boolean;
}

export class SmartleadClient {
  /** The base URL, without any `user:password@` (fit to print). */
  readonly baseUrl: string;
  readonly limiter: RateLimiter;
  /** HTTP requests made, retries included. */
  requests = 0;
  /** Attempts that were retried (429, 5xx, network errors, timeouts). */
  retries = 0;
  #apiKey: string;
  /** The base URL as given, credentials included (they become a Basic auth header). */
  #realBase: string;
  #host: URL;
  #maxBodyBytes: number;
  #timeoutMs: number;
  #maxAttempts: number;
  #backoffBaseMs: number;
  #backoffMaxMs: number;
  #debug: ((line: string) => void) | undefined;
  #sleep: Sleep;
  #signal: AbortSignal | undefined;
  #exportTimeoutMs: number;

  constructor(opts: ClientOptions) {
    this.#apiKey = opts.apiKey;
    registerSecret(opts.apiKey);
    this.#realBase = (opts.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, "");
    this.#host = checkBaseUrl(this.#realBase, opts.allowInsecureHttp ?? false);
    this.baseUrl = withoutCredentials(this.#realBase).replace(/\/+$/, "");
    this.#maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    const signal = opts.signal;
    this.limiter = new RateLimiter(opts.rate ?? DEFAULT_RATE, {
      now: () => performance.now(),
      sleep: abortableSleep(timerSleep(signal), signal),
    });
    this.#timeoutMs = opts.timeoutMs ?? 60_000;
    this.#maxAttempts = Math.max(1, opts.maxAttempts ?? 6);
    this.#backoffBaseMs = opts.backoffBaseMs ?? 500;
    this.#backoffMaxMs = opts.backoffMaxMs ?? 30_000;
    this.#debug = opts.debug;
    this.#sleep = abortableSleep(opts.sleep ?? timerSleep(signal), signal);
    this.#signal = signal;
    this.#exportTimeoutMs = opts.exportTimeoutMs ?? 600_000;
  }

  /** `GET /campaigns/{id}`; a 404 or a body without `id` is `CampaignNotFoundError`. */
  async getCampaign(campaignId: number): Promise<Campaign> {
    let answer: Answer;
    try {
      answer = await this.#request("GET", `/campaigns/${campaignId}`);
    } catch (e) {
      if (e instanceof SmartleadRequestError && (e.status === 404 || e.status === 400)) {
        throw notFound(campaignId);
      }
      throw e;
    }
    const parsed = CampaignSchema.safeParse(answer.json);
    if (!parsed.success) throw notFound(campaignId);
    return parsed.data;
  }

  /** `GET /campaigns`: the account's campaigns (see `campaignList` for the shapes read). */
  async listCampaigns(): Promise<Campaign[]> {
    const answer = await this.#request("GET", "/campaigns");
    const list = campaignList(answer.json);
    if (list === undefined) {
      throw new UnavailableError(
        `Smartlead's answer to list campaigns was not understood: ${
          escapeControl(clip(answer.text, 200), true)
        }`,
        "run again with --debug and report it",
      );
    }
    return list;
  }

  /**
   * `POST /campaigns/{id}/leads`. A 2xx was applied, whatever its body: the answer is read
   * leniently and never fails (`readAddAnswer`); so is an answer of any status that says
   * `is_lead_limit_exhausted`. Sets `attempt.resent` when an earlier attempt may have been
   * applied (its answer was lost or was a 5xx), so that "already in the campaign" may mean
   * "added by that attempt".
   */
  async addLeads(
    campaignId: number,
    leads: readonly LeadPayload[],
    settings: AddLeadsSettings,
    attempt?: { resent: boolean },
  ): Promise<AddAnswer> {
    const answer = await this.#request("POST", `/campaigns/${campaignId}/leads`, {
      body: { lead_list: leads, settings },
      accept: (_status, json) => isLimitExhausted(json),
    });
    if (attempt) attempt.resent = answer.resent;
    return readAddAnswer(answer.json);
  }

  /**
   * `POST /campaigns/{cid}/leads/{leadId}`: updates one lead (custom fields merge, docs-only).
   * Applied only when Smartlead says so (`{"ok":true}`); a stale id is "stale", not an error.
   */
  updateLead(campaignId: number, leadId: number, lead: LeadPayload): Promise<LeadWrite> {
    return this.writeLead("POST", `/campaigns/${campaignId}/leads/${leadId}`, lead);
  }

  /** `DELETE /campaigns/{cid}/leads/{leadId}`: answers the bare text `success`. */
  deleteLead(campaignId: number, leadId: number): Promise<LeadWrite> {
    return this.writeLead("DELETE", `/campaigns/${campaignId}/leads/${leadId}`, undefined, {
      success: "lenient",
    });
  }

  /**
   * A write on one lead id (update, delete, and routes like `.../pause`), classified by
   * `classifyLeadWrite`: a 404 or an answer saying the lead id is invalid (even a 500) is
   * "stale" at once, never retried; 400/422 still throw `SmartleadRequestError` (a refusal).
   */
  async writeLead(
    method: "POST" | "DELETE",
    path: string,
    body?: unknown,
    opts: { success?: "ok" | "lenient" } = {},
  ): Promise<LeadWrite> {
    const answer = await this.#request(method, path, {
      ...(body === undefined ? {} : { body }),
      accept: (status, json, text) => isLeadWriteVerdict(status, json, text),
    });
    const text = escapeControl(clip(redact(answer.text), 300), true);
    return classifyLeadWrite(answer.status, answer.json, text, opts.success ?? "ok");
  }

  /**
   * `GET /leads/?email=`: the lead's id and the campaigns it is in (`campaigns` undefined
   * when the answer does not list them); null for an unknown email (`200 {}`).
   */
  async findLead(email: string): Promise<{ id: number; campaigns: number[] | undefined } | null> {
    const answer = await this.#request("GET", "/leads/", { query: { email } });
    const parsed = LeadLookupSchema.safeParse(answer.json);
    if (!parsed.success) return null;
    const data = parsed.data.lead_campaign_data;
    return { id: parsed.data.id, campaigns: data ? data.map((c) => c.campaign_id) : undefined };
  }

  /**
   * Pages through the campaign roster, 100 entries per request. Entries without a lead or
   * an email (`lead: null`, `lead.email: null`) are skipped and counted by `onSkipped`;
   * `progress` is told the entries read so far and the campaign's size (`total_leads`, when
   * given) after each page.
   */
  async *roster(
    campaignId: number,
    hooks: {
      onSkipped?: (n: number) => void;
      progress?: (read: number, total: number | undefined) => void;
    } = {},
  ): AsyncGenerator<RosterEntry[]> {
    const limit = 100;
    let read = 0;
    for (let offset = 0;; offset += limit) {
      const answer = await this.#request("GET", `/campaigns/${campaignId}/leads`, {
        query: { offset: String(offset), limit: String(limit) },
      });
      const page = parseOrThrow(RosterPageSchema, answer, "campaign leads");
      const entries: RosterEntry[] = [];
      for (const item of page.data) {
        const entry = RosterEntrySchema.safeParse(item);
        if (entry.success) entries.push(entry.data);
      }
      if (entries.length < page.data.length) hooks.onSkipped?.(page.data.length - entries.length);
      const total = page.total_leads ?? undefined;
      read += page.data.length;
      hooks.progress?.(read, total);
      if (entries.length > 0) yield entries;
      if (page.data.length < limit || (total !== undefined && offset + limit >= total)) return;
    }
  }

  /**
   * `GET /campaigns/{id}/leads-export`: the whole campaign as CSV, streamed (no size cap,
   * `exportTimeoutMs` for the whole body). One attempt: anything but a 2xx (or a refused key)
   * is `ExportUnavailable`, and the caller pages the roster instead, which retries.
   */
  async openExport(campaignId: number): Promise<ReadableStream<Uint8Array>> {
    const path = `/campaigns/${campaignId}/leads-export`;
    const { real, shown } = this.#url(path);
    await this.limiter.acquire();
    this.requests++;
    this.#debug?.(`→ GET ${shown}`);
    const timeout = AbortSignal.timeout(this.#exportTimeoutMs);
    const signal = this.#signal ? AbortSignal.any([timeout, this.#signal]) : timeout;
    let res: Response;
    try {
      res = await fetch(real, {
        method: "GET",
        redirect: "manual",
        headers: { "user-agent": `smartlead-sync/${VERSION}`, "accept": "text/csv" },
        signal,
      });
    } catch (e) {
      if (isPermissionDenied(e)) throw permissionError(this.#host.host, this.baseUrl);
      const why = e instanceof DOMException && e.name === "TimeoutError"
        ? `no answer within ${this.#exportTimeoutMs} ms`
        : `network error: ${describeFetchFailure(e, this.#host)}`;
      this.#debug?.(`← GET ${shown}: ${why}`);
      throw new ExportUnavailable(why);
    }
    this.limiter.observe(res.headers);
    this.#debug?.(`← ${res.status} GET ${shown} (${res.headers.get("content-type") ?? "?"})`);
    if (res.ok && res.body !== null) return res.body;
    const text = await readCapped(res, 64 * 1024).catch(() => "");
    if (res.status >= 300 && res.status < 400) throw redirectError(res, real, `GET ${path}`);
    if (res.status === 401 || res.status === 403) {
      throw new AuthError(
        `Smartlead refused the API key (HTTP ${res.status}${messageOf(tryJson(text), text)})`,
        "check SMARTLEAD_API_KEY or --api-key, and that your plan has API access",
      );
    }
    throw new ExportUnavailable(`HTTP ${res.status}${messageOf(tryJson(text), text)}`);
  }

  /**
   * `POST /campaigns/{cid}/leads/{leadId}/pause|resume|unsubscribe`. A 2xx whose body says
   * `ok: false` was not applied (`SmartleadRequestError`); a stale id throws one whose
   * status and body `isStaleLeadIdAnswer` recognises.
   */
  async leadAction(campaignId: number, leadId: number, action: LeadAction): Promise<void> {
    const path = `/campaigns/${campaignId}/leads/${leadId}/${action}`;
    const answer = await this.#request("POST", path);
    const ok = OkSchema.safeParse(answer.json);
    if (ok.success && ok.data.ok === false) {
      throw new SmartleadRequestError(
        answer.status,
        redact(answer.text),
        `Smartlead did not ${action} lead ${leadId}${messageOf(answer.json, answer.text)}`,
      );
    }
  }

  /**
   * `GET /leads/?email=`: the lead's id and the campaigns it is in, or null when Smartlead
   * does not know the email (it answers `{}`).
   */
  async leadByEmail(email: string): Promise<{ id: number; campaignIds: number[] } | null> {
    const answer = await this.#request("GET", "/leads/", { query: { email } });
    const parsed = parseOrThrow(LeadByEmailSchema, answer, "lead by email");
    if (parsed.id === null || parsed.id === undefined) return null;
    const campaignIds = (parsed.lead_campaign_data ?? []).flatMap((c) =>
      c.campaign_id === null || c.campaign_id === undefined ? [] : [c.campaign_id]
    );
    return { id: parsed.id, campaignIds };
  }

  /** The URL with the key in it, and the same URL fit to print. */
  #url(path: string, query: Record<string, string> = {}): { real: string; shown: string } {
    const params = new URLSearchParams(query);
    const shownParams = new URLSearchParams(query);
    params.set("api_key", this.#apiKey);
    shownParams.set("api_key", "***");
    return {
      real: `${this.#realBase}${path}?${params}`,
      shown: `${this.baseUrl}${path}?${shownParams}`,
    };
  }

  async #request(
    method: string,
    path: string,
    opts: {
      query?: Record<string, string>;
      body?: unknown;
      /** Non-2xx answers the caller reads itself instead of retrying or throwing. */
      accept?: (status: number, json: unknown, text: string) => boolean;
    } = {},
  ): Promise<Answer> {
    const { real, shown } = this.#url(path, opts.query);
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    let lastProblem = "";
    let resent = false;
    for (let attempt = 1; attempt <= this.#maxAttempts; attempt++) {
      await this.limiter.acquire();
      this.requests++;
      this.#debug?.(`→ ${method} ${shown}${body ? ` (${body.length} bytes)` : ""}`);
      let res: Response;
      let text: string;
      try {
        const init: RequestInit = {
          method,
          redirect: "manual",
          headers: {
            "user-agent": `smartlead-sync/${VERSION}`,
            "accept": "application/json",
            ...(body === undefined ? {} : { "content-type": "application/json" }),
          },
          signal: AbortSignal.timeout(this.#timeoutMs),
        };
        if (body !== undefined) init.body = body;
        res = await fetch(real, init);
        text = await readCapped(res, this.#maxBodyBytes);
      } catch (e) {
        if (e instanceof BodyTooLarge) {
          throw tooLarge(this.#host.host, `${method} ${path}`, this.#maxBodyBytes);
        }
        if (isPermissionDenied(e)) throw permissionError(this.#host.host, this.baseUrl);
        const why = e instanceof DOMException && e.name === "TimeoutError"
          ? `no answer from ${this.#host.host} within ${this.#timeoutMs} ms`
          : `network error: ${describeFetchFailure(e, this.#host)}`;
        lastProblem = why;
        this.#debug?.(`← ${method} ${shown}: ${why}`);
        resent = true;
        if (attempt < this.#maxAttempts) {
          this.retries++;
          await this.#backoff(attempt);
        }
        continue;
      }
      this.limiter.observe(res.headers);
      this.#debug?.(`← ${res.status} ${method} ${shown}: ${escapeControl(clip(text, 500), true)}`);
      if (res.status >= 300 && res.status < 400) {
        throw redirectError(res, real, `${method} ${path}`);
      }
      const json = tryJson(text);
      if (res.ok || opts.accept?.(res.status, json, text)) {
        return { status: res.status, text, json, resent };
      }
      if (res.status === 401 || res.status === 403) {
        throw new AuthError(
          `Smartlead refused the API key (HTTP ${res.status}${messageOf(json, text)})`,
          "check SMARTLEAD_API_KEY or --api-key, and that your plan has API access",
        );
      }
      if (res.status === 500 && isStaleLeadIdAnswer(res.status, json)) {
        // A stale lead id, not an outage: retrying would answer the same.
        throw new SmartleadRequestError(
          res.status,
          redact(text),
          `Smartlead answered HTTP ${res.status} to ${method} ${path}${messageOf(json, text)}`,
        );
      }
      if (res.status === 429 || res.status >= 500) {
        lastProblem = `HTTP ${res.status}${messageOf(json, text)}`;
        if (attempt >= this.#maxAttempts) break;
        if (res.status >= 500) resent = true;
        this.retries++;
        const retryAfter = parseRetryAfter(res.headers.get("retry-after"));
        if (res.status === 429 && retryAfter !== undefined) {
          this.limiter.pause(retryAfter);
        } else {
          await this.#backoff(attempt);
        }
        continue;
      }
      throw new SmartleadRequestError(
        res.status,
        redact(text),
        `Smartlead answered HTTP ${res.status} to ${method} ${path}${messageOf(json, text)}`,
      );
    }
    throw new UnavailableError(
      `Smartlead is unavailable: ${method} ${path} failed ${
        plural(this.#maxAttempts, "time")
      } (last: ${lastProblem})`,
      "try again later; rows not confirmed by Smartlead are sent again on the next run",
    );
  }

  async #backoff(attempt: number): Promise<void> {
    const cap = Math.min(this.#backoffMaxMs, this.#backoffBaseMs * 2 ** (attempt - 1));
    // "Equal jitter": never less than half the step, so retries really spread out.
    await this.#sleep(cap / 2 + Math.random() * cap / 2);
  }
}

function notFound(campaignId: number): CampaignNotFoundError {
  return new CampaignNotFoundError(
    `campaign ${campaignId} not found`,
    "check --campaign-id (or SMARTLEAD_CAMPAIGN_ID) and that the API key belongs to its account",
  );
}

function tryJson(text: string): unknown {
  if (text === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function messageOf(json: unknown, text: string): string {
  if (json && typeof json === "object") {
    const o = json as Record<string, unknown>;
    const m = o.message ?? o.error;
    if (typeof m === "string") return `: ${escapeControl(clip(m, 300), true)}`;
  }
  const t = text.trim();
  return t && t.length < 200 ? `: ${escapeControl(redact(t), true)}` : "";
}

/** `Retry-After` in seconds or as an HTTP date, in milliseconds. */
export function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.min(seconds, 600)) * 1000;
  const at = Date.parse(value);
  if (Number.isFinite(at)) return Math.max(0, Math.min(at - Date.now(), 600_000));
  return undefined;
}

function parseOrThrow<T extends z.ZodType>(schema: T, answer: Answer, what: string): z.infer<T> {
  const parsed = schema.safeParse(answer.json);
  if (!parsed.success) {
    throw new UnavailableError(
      `Smartlead's answer to ${what} was not understood: ${
        escapeControl(clip(answer.text, 200), true)
      }`,
      "run again with --debug and report it",
    );
  }
  return parsed.data;
}
