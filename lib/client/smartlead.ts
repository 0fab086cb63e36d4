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
  type AddLeadsResponse,
  AddLeadsResponseSchema,
  type Campaign,
  CampaignSchema,
  OkSchema,
  type RosterEntry,
  RosterPageSchema,
} from "./schemas.ts";

export const DEFAULT_BASE_URL = "https://server.smartlead.ai/api/v1";

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
  /** The most of an answer read before giving up (default 8 MB). */
  maxBodyBytes?: number;
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

  constructor(opts: ClientOptions) {
    this.#apiKey = opts.apiKey;
    registerSecret(opts.apiKey);
    this.#realBase = (opts.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, "");
    this.#host = checkBaseUrl(this.#realBase, opts.allowInsecureHttp ?? false);
    this.baseUrl = withoutCredentials(this.#realBase).replace(/\/+$/, "");
    this.#maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    const signal = opts.signal;
    this.limiter = new RateLimiter(opts.rate ?? { requests: 10, windowMs: 2000 }, {
      now: () => performance.now(),
      sleep: abortableSleep(timerSleep(signal), signal),
    });
    this.#timeoutMs = opts.timeoutMs ?? 60_000;
    this.#maxAttempts = Math.max(1, opts.maxAttempts ?? 6);
    this.#backoffBaseMs = opts.backoffBaseMs ?? 500;
    this.#backoffMaxMs = opts.backoffMaxMs ?? 30_000;
    this.#debug = opts.debug;
    this.#sleep = abortableSleep(opts.sleep ?? timerSleep(signal), signal);
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

  /**
   * `POST /campaigns/{id}/leads`. Returns the parsed answer, every counter kept. Sets
   * `attempt.resent` when an earlier attempt may have been applied (its answer was lost or
   * was a 5xx), so that "already in the campaign" may mean "added by that attempt".
   */
  async addLeads(
    campaignId: number,
    leads: readonly LeadPayload[],
    settings: AddLeadsSettings,
    attempt?: { resent: boolean },
  ): Promise<AddLeadsResponse & Record<string, unknown>> {
    const answer = await this.#request("POST", `/campaigns/${campaignId}/leads`, {
      body: { lead_list: leads, settings },
    });
    if (attempt) attempt.resent = answer.resent;
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
    return {
      real: `${this.#realBase}${path}?${params}`,
      shown: `${this.baseUrl}${path}?${shownParams}`,
    };
  }

  async #request(
    method: string,
    path: string,
    opts: { query?: Record<string, string>; body?: unknown } = {},
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
      // A timer cleared as soon as the answer is read: `AbortSignal.timeout` would keep each
      // request's state alive until its timeout fires (about 1 GB at 900 requests a second).
      const deadline = new AbortController();
      const timer = setTimeout(
        () => deadline.abort(new DOMException("the request timed out", "TimeoutError")),
        this.#timeoutMs,
      );
      try {
        const init: RequestInit = {
          method,
          redirect: "manual",
          headers: {
            "user-agent": `smartlead-sync/${VERSION}`,
            "accept": "application/json",
            ...(body === undefined ? {} : { "content-type": "application/json" }),
          },
          signal: deadline.signal,
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
      } finally {
        clearTimeout(timer);
      }
      this.limiter.observe(res.headers);
      this.#debug?.(`← ${res.status} ${method} ${shown}: ${escapeControl(clip(text, 500), true)}`);
      if (res.status >= 300 && res.status < 400) {
        throw redirectError(res, real, `${method} ${path}`);
      }
      const json = tryJson(text);
      if (res.ok) return { status: res.status, text, json, resent };
      if (res.status === 401 || res.status === 403) {
        throw new AuthError(
          `Smartlead refused the API key (HTTP ${res.status}${messageOf(json, text)})`,
          "check SMARTLEAD_API_KEY or --api-key, and that your plan has API access",
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
      `Smartlead is unavailable: ${method} ${path} failed ${this.#maxAttempts} times (last: ${lastProblem})`,
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
