/**
 * The one module that talks HTTP to Smartlead: base URL, the `api_key` query parameter and
 * its redaction, User-Agent, timeouts, the client-side rate limiter, retries with
 * exponential backoff and jitter for 5xx and network errors, and 429s waited out on a time
 * budget (`Retry-After`, `x-ratelimit-reset`, or a whole window). Redirects are never
 * followed, answers are read up to a size cap, and every wait ends when the run is asked to
 * stop (`lib/client/transport.ts`).
 */
import type { z } from "zod";
import {
  AuthError,
  CampaignNotFoundError,
  SyncError,
  UnavailableError,
  UsageError,
} from "../errors.ts";
import { escapeControl } from "../escape.ts";
import { clip, redact, registerSecret, withoutCredentials } from "../redact.ts";
import { VERSION } from "../version.ts";
import { type Clock, RateLimiter, realSleep, type Sleep, type Slot } from "./rate_limiter.ts";
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
  type Sleep as TransportSleep,
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
  isStaleLeadIdAnswer,
  type LeadWrite,
  readAddAnswer,
} from "./answers.ts";
import { plural } from "../plural.ts";

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
  /** Time for the rate limiter and the wait budget (tests pass a fake one). */
  clock?: Clock;
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

/** Whether `e` is Smartlead saying that a lead id is not in the campaign (`answers.ts`). */
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
  #maxWaitMs: number;
  #now: () => number;

  constructor(opts: ClientOptions) {
    this.#apiKey = opts.apiKey;
    registerSecret(opts.apiKey);
    this.#realBase = (opts.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, "");
    this.#host = checkBaseUrl(this.#realBase, opts.allowInsecureHttp ?? false);
    this.baseUrl = withoutCredentials(this.#realBase).replace(/\/+$/, "");
    this.#maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    const signal = opts.signal;
    const rate = opts.rate ?? DEFAULT_RATE;
    // The limiter's waits end on its own abandon signal and on the run's stop signal.
    const clock: Clock = opts.clock ?? {
      now: () => performance.now(),
      sleep: (ms, own) =>
        abortableSleep(
          (m) => realSleep(m, own && signal ? AbortSignal.any([own, signal]) : own ?? signal),
          signal,
        )(ms),
    };
    this.limiter = new RateLimiter({
      requests: rate.requests,
      windowMs: rate.windowMs,
      ...(opts.rateWindowMs !== undefined ? { longWindowMs: opts.rateWindowMs } : {}),
      ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
    }, clock);
    this.#maxWaitMs = opts.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
    this.#now = clock.now;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#maxAttempts = Math.max(1, opts.maxAttempts ?? 6);
    this.#backoffBaseMs = opts.backoffBaseMs ?? 500;
    this.#backoffMaxMs = opts.backoffMaxMs ?? 30_000;
    this.#debug = opts.debug;
    const backoffSleep: TransportSleep = opts.sleep ??
      (opts.clock ? (ms) => opts.clock!.sleep(ms) : timerSleep(signal));
    this.#sleep = abortableSleep(backoffSleep, signal);
    this.#signal = signal;
    this.#exportTimeoutMs = opts.exportTimeoutMs ?? EXPORT_TIMEOUT_MS;
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
    const slot = await this.limiter.acquire();
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
      this.limiter.failed(slot);
      if (isPermissionDenied(e)) throw permissionError(this.#host.host, this.baseUrl);
      const why = e instanceof DOMException && e.name === "TimeoutError"
        ? `no answer within ${this.#exportTimeoutMs} ms`
        : `network error: ${describeFetchFailure(e, this.#host)}`;
      this.#debug?.(`← GET ${shown}: ${why}`);
      throw new ExportUnavailable(why);
    }
    // A 429 teaches the limiter like any other; the caller then pages (and waits) instead.
    if (res.status === 429) this.limiter.refused(slot, res.headers);
    else this.limiter.answered(slot, res.headers);
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
    // 5xx and network errors count against --max-attempts; 429s against --max-wait.
    let attempt = 0;
    while (true) {
      const slot = await this.limiter.acquire();
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
          this.limiter.failed(slot);
          throw tooLarge(this.#host.host, `${method} ${path}`, this.#maxBodyBytes);
        }
        if (isPermissionDenied(e)) {
          this.limiter.failed(slot);
          throw permissionError(this.#host.host, this.baseUrl);
        }
        const why = e instanceof DOMException && e.name === "TimeoutError"
          ? `no answer from ${this.#host.host} within ${this.#timeoutMs} ms`
          : `network error: ${describeFetchFailure(e, this.#host)}`;
        lastProblem = why;
        this.limiter.failed(slot);
        this.#debug?.(`← ${method} ${shown}: ${why}`);
        resent = true;
        if (++attempt >= this.#maxAttempts) break;
        await this.#backoff(attempt);
        continue;
      } finally {
        clearTimeout(timer);
      }
      this.#debug?.(`← ${res.status} ${method} ${shown}: ${escapeControl(clip(text, 500), true)}`);
      if (res.status >= 300 && res.status < 400) {
        this.limiter.answered(slot, res.headers);
        throw redirectError(res, real, `${method} ${path}`);
      }
      const json = tryJson(text);
      if (res.status === 429) {
        this.#refused(slot, res.headers, `${method} ${path}`);
        this.retries++;
        continue;
      }
      this.limiter.answered(slot, res.headers);
      if (res.ok || opts.accept?.(res.status, json, text)) {
        return { status: res.status, text, json, resent };
      }
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
      if (res.status === 500 && isStaleLeadIdAnswer(res.status, json)) {
        // A stale lead id, not an outage: retrying would answer the same.
        throw new SmartleadRequestError(
          res.status,
          redact(text),
          `Smartlead answered HTTP ${res.status} to ${method} ${path}${messageOf(json, text)}`,
        );
      }
      if (res.status >= 500) {
        lastProblem = `HTTP ${res.status}${messageOf(json, text)}`;
        resent = true;
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
      `Smartlead is unavailable: ${method} ${path} failed ${
        plural(this.#maxAttempts, "time")
      } (last: ${lastProblem})`,
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
    if (typeof m === "string") return `: ${escapeControl(clip(m, 300), true)}`;
  }
  const t = text.trim();
  return t && t.length < 200 ? `: ${escapeControl(redact(t), true)}` : "";
}

export { parseRetryAfter } from "./rate_limiter.ts";

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
