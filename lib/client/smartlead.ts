/**
 * The one module that talks HTTP to Smartlead: base URL, the `api_key` query parameter and
 * its redaction, User-Agent, timeouts, the client-side rate limiter, retries with
 * exponential backoff and jitter for 5xx and network errors, and 429s waited out on a time
 * budget (`Retry-After`, `x-ratelimit-reset`, or a whole window).
 */
import type { z } from "zod";
import {
  AuthError,
  CampaignNotFoundError,
  SyncError,
  UnavailableError,
  UsageError,
} from "../errors.ts";
import { redact, registerSecret } from "../redact.ts";
import { VERSION } from "../version.ts";
import { type Clock, RateLimiter, type Sleep, type Slot } from "./rate_limiter.ts";
import {
  type AddLeadsResponse,
  AddLeadsResponseSchema,
  type Campaign,
  CampaignSchema,
  OkSchema,
  type RosterEntry,
  RosterPageSchema,
} from "./schemas.ts";

export const DEFAULT_BASE_URL = "https://server.smartlead.ai/api/v1";
/** Cloudflare gives Smartlead's origin about 100 s before answering 524. */
export const DEFAULT_TIMEOUT_MS = 120_000;
/** For `GET /campaigns/{id}/leads-export` (the whole campaign as CSV), once it is used. */
export const EXPORT_TIMEOUT_MS = 600_000;
/** How long 429s are waited out before giving up (a lockout can last minutes). */
export const DEFAULT_MAX_WAIT_MS = 15 * 60_000;
/** The client's ceiling unless `--rate` says otherwise: Smartlead's documented burst. */
export const DEFAULT_RATE = { requests: 10, windowMs: 2000 } as const;

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
  /** The ceiling (`--rate`); the limiter learns the real budget below it. */
  rate?: { requests: number; windowMs: number };
  /** The window a learnt budget is counted over, and a bare 429's wait; default 60 s. */
  rateWindowMs?: number;
  /** Most requests in flight (`--concurrency`); cut to one after a 429. */
  concurrency?: number;
  /** How long 429s are waited out (per refusal spell) before giving up; default 15 min. */
  maxWaitMs?: number;
  timeoutMs?: number;
  /** Attempts per request for 5xx and network errors (429s are bounded by `maxWaitMs`). */
  maxAttempts?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Request/response lines for `--debug`; already redacted. */
  debug?: (line: string) => void;
  sleep?: Sleep;
  /** Time for the rate limiter and the wait budget (tests pass a fake one). */
  clock?: Clock;
}

/** A non-2xx answer that retrying will not fix (400, 404, 422...). */
export class SmartleadRequestError extends SyncError {
  constructor(readonly status: number, readonly body: string, message: string) {
    super(message);
  }
}

interface Answer {
  status: number;
  text: string;
  json: unknown;
}

export class SmartleadClient {
  readonly baseUrl: string;
  readonly limiter: RateLimiter;
  /** HTTP requests made, retries included. */
  requests = 0;
  /** Attempts that were retried (429, 5xx, network errors, timeouts). */
  retries = 0;
  #apiKey: string;
  #timeoutMs: number;
  #maxAttempts: number;
  #backoffBaseMs: number;
  #backoffMaxMs: number;
  #debug: ((line: string) => void) | undefined;
  #sleep: Sleep;
  #maxWaitMs: number;
  #now: () => number;

  constructor(opts: ClientOptions) {
    this.#apiKey = opts.apiKey;
    registerSecret(opts.apiKey);
    this.baseUrl = (opts.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, "");
    const rate = opts.rate ?? DEFAULT_RATE;
    this.limiter = new RateLimiter({
      requests: rate.requests,
      windowMs: rate.windowMs,
      ...(opts.rateWindowMs !== undefined ? { longWindowMs: opts.rateWindowMs } : {}),
      ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
    }, opts.clock);
    this.#maxWaitMs = opts.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
    this.#now = opts.clock?.now ?? (() => performance.now());
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#maxAttempts = Math.max(1, opts.maxAttempts ?? 6);
    this.#backoffBaseMs = opts.backoffBaseMs ?? 500;
    this.#backoffMaxMs = opts.backoffMaxMs ?? 30_000;
    this.#debug = opts.debug;
    this.#sleep = opts.sleep ?? opts.clock?.sleep ??
      ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /**
   * `GET /campaigns/{id}`; Smartlead's 404, or a body without `id` (a deleted campaign
   * answers 200 with an empty body), is `CampaignNotFoundError`. A 404 that is not
   * Smartlead's "Campaign not found" JSON, or an answer that is not JSON at all, means the
   * base URL points somewhere else (e.g. it lacks `/api/v1`): a `UsageError` naming it.
   */
  async getCampaign(campaignId: number): Promise<Campaign> {
    let answer: Answer;
    try {
      answer = await this.#request("GET", `/campaigns/${campaignId}`);
    } catch (e) {
      if (e instanceof SmartleadRequestError && e.status === 404) {
        if (isCampaignNotFound(tryJson(e.body))) throw notFound(campaignId);
        throw this.#wrongBaseUrl(`HTTP 404 ${describeBody(e.body)}`);
      }
      if (e instanceof SmartleadRequestError && e.status === 400) throw notFound(campaignId);
      throw e;
    }
    if (answer.text.trim() !== "" && answer.json === null) {
      throw this.#wrongBaseUrl(`HTTP ${answer.status} ${describeBody(answer.text)}`);
    }
    const parsed = CampaignSchema.safeParse(answer.json);
    if (!parsed.success) throw notFound(campaignId);
    return parsed.data;
  }

  #wrongBaseUrl(what: string): UsageError {
    const hint = /\/api\/v\d+$/.test(this.baseUrl)
      ? "check --base-url / SMARTLEAD_BASE_URL"
      : "it lacks /api/v1: Smartlead's is https://server.smartlead.ai/api/v1";
    return new UsageError(
      `the base URL ${this.baseUrl} looks wrong: GET /campaigns/{id} answered ${what}, ` +
        "not a Smartlead answer",
      hint,
    );
  }

  /** `POST /campaigns/{id}/leads`. Returns the parsed answer, every counter kept. */
  async addLeads(
    campaignId: number,
    leads: readonly LeadPayload[],
    settings: AddLeadsSettings,
  ): Promise<AddLeadsResponse & Record<string, unknown>> {
    const answer = await this.#request("POST", `/campaigns/${campaignId}/leads`, {
      body: { lead_list: leads, settings },
    });
    return parseOrThrow(AddLeadsResponseSchema, answer, "add leads");
  }

  /** `POST /campaigns/{cid}/leads/{leadId}`: updates one lead (custom fields merge). */
  async updateLead(campaignId: number, leadId: number, lead: LeadPayload): Promise<void> {
    const answer = await this.#request("POST", `/campaigns/${campaignId}/leads/${leadId}`, {
      body: lead,
    });
    if (answer.json !== null) parseOrThrow(OkSchema, answer, "update lead");
  }

  /** `DELETE /campaigns/{cid}/leads/{leadId}`: answers the bare text `success`. */
  async deleteLead(campaignId: number, leadId: number): Promise<void> {
    await this.#request("DELETE", `/campaigns/${campaignId}/leads/${leadId}`);
  }

  /** Pages through the campaign roster, 100 leads per request. */
  async *roster(campaignId: number): AsyncGenerator<RosterEntry[]> {
    const limit = 100;
    for (let offset = 0;; offset += limit) {
      const answer = await this.#request("GET", `/campaigns/${campaignId}/leads`, {
        query: { offset: String(offset), limit: String(limit) },
      });
      const page = parseOrThrow(RosterPageSchema, answer, "campaign leads");
      if (page.data.length > 0) yield page.data;
      const total = page.total_leads ?? undefined;
      if (page.data.length < limit || (total !== undefined && offset + limit >= total)) return;
    }
  }

  /** The URL with the key in it, and the same URL fit to print. */
  #url(path: string, query: Record<string, string> = {}): { real: string; shown: string } {
    const params = new URLSearchParams(query);
    const shownParams = new URLSearchParams(query);
    params.set("api_key", this.#apiKey);
    shownParams.set("api_key", "***");
    const base = this.baseUrl + path;
    return { real: `${base}?${params}`, shown: `${base}?${shownParams}` };
  }

  async #request(
    method: string,
    path: string,
    opts: { query?: Record<string, string>; body?: unknown } = {},
  ): Promise<Answer> {
    const { real, shown } = this.#url(path, opts.query);
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    let lastProblem = "";
    // 5xx and network errors count against --max-attempts; 429s against --max-wait.
    let attempt = 0;
    while (true) {
      const slot = await this.limiter.acquire();
      this.requests++;
      this.#debug?.(`→ ${method} ${shown}${body ? ` (${body.length} bytes)` : ""}`);
      let res: Response;
      let text: string;
      try {
        const init: RequestInit = {
          method,
          headers: {
            "user-agent": `smartlead-sync/${VERSION}`,
            "accept": "application/json",
            ...(body === undefined ? {} : { "content-type": "application/json" }),
          },
          signal: AbortSignal.timeout(this.#timeoutMs),
        };
        if (body !== undefined) init.body = body;
        res = await fetch(real, init);
        text = await res.text();
      } catch (e) {
        const why = e instanceof DOMException && e.name === "TimeoutError"
          ? `no answer within ${this.#timeoutMs} ms`
          : `network error: ${redact(e instanceof Error ? e.message : String(e))}`;
        lastProblem = why;
        this.limiter.failed(slot);
        this.#debug?.(`← ${method} ${shown}: ${why}`);
        if (++attempt >= this.#maxAttempts) break;
        await this.#backoff(attempt);
        continue;
      }
      this.#debug?.(`← ${res.status} ${method} ${shown}: ${redact(text.slice(0, 500))}`);
      const json = tryJson(text);
      if (res.status === 429) {
        this.#refused(slot, res.headers, `${method} ${path}`);
        this.retries++;
        continue;
      }
      this.limiter.answered(slot, res.headers);
      if (res.ok) return { status: res.status, text, json };
      if (res.status === 403 && !isJsonObject(json)) {
        // Cloudflare's "error code: 1010" (or an HTML page): the CDN refused this client.
        throw new AuthError(
          `Smartlead's CDN (Cloudflare) blocked the request (HTTP 403${
            messageOf(json, text)
          }): a block of this client, not a bad API key; it sent User-Agent: smartlead-sync/${VERSION}`,
          "the key was not checked: try from another network or IP, or report the block to " +
            "Smartlead support quoting the User-Agent (run with --debug for the full answer)",
        );
      }
      if (res.status === 401 || res.status === 403) {
        throw new AuthError(
          `Smartlead refused the API key (HTTP ${res.status}${messageOf(json, text)})`,
          "check SMARTLEAD_API_KEY or --api-key, and that your plan has API access",
        );
      }
      if (res.status >= 500) {
        lastProblem = `HTTP ${res.status}${messageOf(json, text)}`;
        if (++attempt >= this.#maxAttempts) break;
        await this.#backoff(attempt);
        continue;
      }
      throw new SmartleadRequestError(
        res.status,
        redact(text),
        `Smartlead answered HTTP ${res.status} to ${method} ${path}${messageOf(json, text)}`,
      );
    }
    throw new UnavailableError(
      `Smartlead is unavailable: ${method} ${path} failed ${this.#maxAttempts} times (last: ${lastProblem})`,
      "try again later; rows not confirmed by Smartlead are sent again on the next run",
    );
  }

  /**
   * A 429: the limiter learns from it and pauses for the server's `Retry-After`, else its
   * `x-ratelimit-reset`, else a whole window. Throws once the key has been refused, with no
   * other answer in between, for longer than `maxWaitMs`.
   */
  #refused(slot: Slot, headers: Headers, what: string): void {
    const wait = this.limiter.refused(slot, headers);
    const since = this.limiter.refusedSince ?? this.#now();
    const waited = this.#now() - since;
    if (waited + wait > this.#maxWaitMs) {
      const error = new UnavailableError(
        `Smartlead kept refusing requests (HTTP 429, rate limit) for ${
          seconds(waited)
        }; the next wait (${seconds(wait)}) would pass --max-wait ${
          seconds(this.#maxWaitMs)
        } (last: ${what})`,
        "another job may be using the same API key, or the account is locked out: run again " +
          "later (rows not confirmed are sent again), or raise --max-wait",
      );
      this.limiter.abandon(error);
      throw error;
    }
  }

  async #backoff(attempt: number): Promise<void> {
    this.retries++;
    const cap = Math.min(this.#backoffMaxMs, this.#backoffBaseMs * 2 ** (attempt - 1));
    // "Equal jitter": never less than half the step, so retries really spread out.
    await this.#sleep(cap / 2 + Math.random() * cap / 2);
  }
}

function seconds(ms: number): string {
  return ms < 120_000 ? `${Math.round(ms / 100) / 10} s` : `${Math.round(ms / 6000) / 10} min`;
}

function isJsonObject(json: unknown): boolean {
  return typeof json === "object" && json !== null;
}

/** Smartlead's own `{"error":"Campaign not found - Invalid campaign_id."}`. */
function isCampaignNotFound(json: unknown): boolean {
  if (!isJsonObject(json)) return false;
  const o = json as Record<string, unknown>;
  return [o.error, o.message].some((m) => typeof m === "string" && /campaign not found/i.test(m));
}

/** A few words on a body for an error message: its start, or "with an empty body". */
function describeBody(text: string): string {
  const t = redact(text.replace(/\s+/g, " ").trim());
  if (t === "") return "with an empty body";
  return `with ${JSON.stringify(t.length > 80 ? t.slice(0, 77) + "..." : t)}`;
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
    if (typeof m === "string") return `: ${redact(m)}`;
  }
  const t = text.trim();
  return t && t.length < 200 ? `: ${redact(t)}` : "";
}

export { parseRetryAfter } from "./rate_limiter.ts";

function parseOrThrow<T extends z.ZodType>(schema: T, answer: Answer, what: string): z.infer<T> {
  const parsed = schema.safeParse(answer.json);
  if (!parsed.success) {
    throw new UnavailableError(
      `Smartlead's answer to ${what} was not understood: ${redact(answer.text.slice(0, 200))}`,
      "run again with --debug and report it",
    );
  }
  return parsed.data;
}
