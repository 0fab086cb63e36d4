/**
 * The sandbox: a local Smartlead API over real HTTP (Deno.serve behind a TCP front),
 * with auth, a per-key rate limit, fault injection and a request log.
 */

import {
  type Behaviour,
  DEFAULT_BEHAVIOUR,
  parseBehaviour,
  shapeAddAnswer,
  staleIdAnswer,
} from "./behaviour.ts";
import {
  type Fault,
  FaultBook,
  type FaultRule,
  parseFaultRule,
  type RateConfig,
  rateHeaders,
  RateWindow,
} from "./faults.ts";
import { DropProxy } from "./proxy.ts";
import { exportCsv, type ExportCustomFields, leadJson, rosterEntries } from "./export.ts";
import { type LeadAction, SandboxState } from "./state.ts";
import { badRequest, queryInt, validateAddBody, validateLeadBody } from "./validate.ts";

export type { Fault, FaultRule, RateConfig } from "./faults.ts";
export type { Behaviour } from "./behaviour.ts";
export { type ExportCustomFields, leadJson } from "./export.ts";
export { type LeadEdit, type SandboxLead, SandboxState } from "./state.ts";

export interface SandboxOptions {
  /** Default 0 (ephemeral). */
  port?: number;
  /** Default "127.0.0.1". */
  hostname?: string;
  /** Default "sandbox-key". */
  apiKey?: string;
  /** Campaigns that exist; default [1]. */
  campaignIds?: number[];
  /**
   * Sliding window per api key over all authenticated requests, with its lockout,
   * `Retry-After` and `x-ratelimit-reset` style; null = unlimited.
   */
  rate?: RateConfig | null;
  /**
   * Answer 403 `error code: 1010` (text, as Cloudflare does) to requests whose User-Agent
   * contains this (case-insensitive), before authentication.
   */
  blockUserAgent?: string;
  /** The clock the rate limit counts with (ms); default `Date.now`. Tests pass a fake one. */
  now?: () => number;
  /** Remaining lead credits; null = unlimited. Each new lead in the account uses one. */
  credits?: number | null;
  /** Added delay on every API response. */
  latencyMs?: number;
  /** Where real answers vary: answer shapes, id map, stale ids, custom-field cap. */
  behaviour?: Partial<Behaviour>;
  /**
   * Keep connections alive between requests (default false: every answer carries
   * `Connection: close`). Deno's fetch silently re-sends a request once when a *reused*
   * connection closes without an answer, so with keep-alive a "drop" fault is usually
   * invisible to the client (the request arrives twice) instead of making fetch reject.
   */
  keepAlive?: boolean;
  log?: (line: string) => void;
  /**
   * How `GET /campaigns/{id}/leads-export` writes custom fields: `json` (default), one JSON
   * object in a `custom_fields` column; `columns`, one column per custom field.
   */
  exportCustomFields?: ExportCustomFields;
  /**
   * What update, delete, pause, resume and unsubscribe answer for a lead id that is not in
   * the campaign: 404 `{"error":"Lead not found"}` (default), or 500
   * `{"error":"Invalid lead id"}` as Smartlead documents on sibling routes.
   */
  staleLeadStatus?: 404 | 500;
}

export interface RecordedRequest {
  method: string;
  /** Pathname + query, with the api_key value replaced by "***". */
  path: string;
  /** HTTP status answered; 0 when the connection was dropped. */
  status: number;
  /** ms epoch at arrival. */
  at: number;
  /** Parsed JSON body if any (the raw text when it was not JSON). */
  body?: unknown;
}

export interface Sandbox {
  /** Base URL the CLI uses, e.g. "http://127.0.0.1:43123/api/v1". */
  url: string;
  apiKey: string;
  state: SandboxState;
  requests: RecordedRequest[];
  addFault(rule: FaultRule): void;
  setCredits(n: number | null): void;
  setRate(rate: RateConfig | null): void;
  /** The current behaviour (see `behaviour.ts`). */
  readonly behaviour: Behaviour;
  setBehaviour(change: Partial<Behaviour>): void;
  /** Deletes a lead as Smartlead's UI would (from one campaign, or the account). */
  removeLead(email: string, campaignId?: number): boolean;
  close(): Promise<void>;
}

const BASE = "/api/v1";
const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Access denied",
  404: "Not found",
  429: "Rate limit exceeded",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

function json(status: number, body: unknown, headers: HeadersInit = {}): Response {
  const h = new Headers(headers);
  h.set("content-type", "application/json; charset=utf-8");
  return new Response(JSON.stringify(body), { status, headers: h });
}

const notFound = () => json(404, { message: "Not found" });
const campaignNotFound = () => json(404, { error: "Campaign not found - Invalid campaign_id." });

/** Resolve after ms, or at once when the signal aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}

/** Pathname + query with the api_key value masked. */
export function redactPath(url: URL): string {
  return url.pathname + url.search.replace(/([?&]api_key=)[^&]*/g, "$1***");
}

function faultResponse(fault: Extract<Fault, { kind: "status" }>): Response {
  const body = fault.body ?? JSON.stringify({ message: STATUS_TEXT[fault.status] ?? "Error" });
  const type = /^\s*[[{]/.test(body) ? "application/json; charset=utf-8" : "text/plain";
  return new Response(body, { status: fault.status, headers: { "content-type": type } });
}

/** A 200 JSON answer that never ends (spaces, 64 kB at a time) until the client goes away. */
function endlessBody(): Response {
  const chunk = new TextEncoder().encode(" ".repeat(64 * 1024));
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.enqueue(chunk);
    },
  });
  return new Response(body, { headers: { "content-type": "application/json" } });
}

async function readBody(req: Request): Promise<{ text: string; value?: unknown; ok: boolean }> {
  const text = await req.text();
  if (text.trim() === "") return { text, ok: true };
  try {
    return { text, value: JSON.parse(text), ok: true };
  } catch {
    return { text, value: text, ok: false };
  }
}

/** Route one authenticated, admitted API request against the state. */
function route(
  state: SandboxState,
  method: string,
  url: URL,
  body: { value?: unknown; ok: boolean },
  behaviour: Behaviour,
  opts: { exportCustomFields: ExportCustomFields; staleLeadStatus: 404 | 500 },
): Response {
  const parts = url.pathname.slice(BASE.length).split("/").filter((p) => p !== "");
  if (parts[0] === "leads" && parts.length === 1 && method === "GET") {
    const email = url.searchParams.get("email");
    if (!email) return json(400, badRequest("email", "is required", "query"));
    const lead = state.leads.get(email.trim().toLowerCase());
    if (!lead) return json(200, {});
    const lead_campaign_data = state.campaignsOf(lead.id).map((c) => ({
      campaign_id: c.id,
      campaign_name: c.name,
      campaign_lead_map_id: c.mapIds.get(lead.id),
      lead_category_id: null,
      lead_status: "INPROGRESS",
    }));
    return json(200, { ...leadJson(lead), lead_campaign_data });
  }
  if (parts[0] === "campaigns" && parts.length === 1 && method === "GET") {
    // The account's campaigns: a bare array of campaign objects (the shape integrations describe;
    // the client also reads one wrapped in an object).
    return json(
      200,
      [...state.campaigns.values()].map(({ id, name, status, created_at }) => ({
        id,
        user_id: 1,
        created_at,
        updated_at: created_at,
        status,
        name,
      })),
    );
  }
  if (parts[0] !== "campaigns" || parts.length < 2 || parts.length > 5) return notFound();
  const exporting = parts.length === 3 && parts[2] === "leads-export";
  if (parts.length >= 3 && parts[2] !== "leads" && !exporting) return notFound();
  if (parts.length === 5 && !["pause", "resume", "unsubscribe"].includes(parts[4]!)) {
    return notFound();
  }
  const cid = Number(parts[1]);
  if (!/^\d+$/.test(parts[1] ?? "")) {
    return json(400, badRequest("campaign_id", "must be a number", "params"));
  }
  const campaign = state.campaigns.get(cid);
  const known = ["GET:2", "GET:3", "POST:3", "POST:4", "DELETE:4", "POST:5"];
  if (!known.includes(`${method}:${parts.length}`)) return notFound();
  if (!campaign) return campaignNotFound();

  if (parts.length === 2) {
    const { id, name, status, created_at } = campaign;
    return json(200, { id, name, status, created_at });
  }
  if (exporting) {
    if (method !== "GET") return notFound();
    return new Response(exportCsv(state, cid, opts.exportCustomFields), {
      headers: { "content-type": "text/csv; charset=utf-8" },
    });
  }
  if (parts.length === 3 && method === "GET") {
    const offset = queryInt(url.searchParams, "offset", 0);
    if (!offset.ok) return json(400, offset.error);
    const limit = queryInt(url.searchParams, "limit", 100, 100);
    if (!limit.ok) return json(400, limit.error);
    const members = rosterEntries(state, cid);
    const data = members.slice(offset.value, offset.value + limit.value);
    return json(200, {
      total_leads: String(members.length),
      offset: offset.value,
      limit: limit.value,
      data,
    });
  }
  if (!body.ok) {
    return json(400, { statusCode: 400, error: "Bad Request", message: "Invalid JSON" });
  }
  if (parts.length === 3) {
    const checked = validateAddBody(body.value, behaviour.maxCustomFields);
    if (!checked.ok) return json(400, checked.error);
    if (checked.value.lead_list.length > 400) {
      return json(422, { message: "lead_list cannot exceed 400 leads per request" });
    }
    const answer = state.addLeads(cid, checked.value.lead_list, checked.value.settings);
    return json(200, answer.ok ? shapeAddAnswer(answer, behaviour) : answer);
  }
  const stale = () => {
    const { status, body } = staleIdAnswer(behaviour);
    return json(status, body);
  };
  if (!/^\d+$/.test(parts[3] ?? "")) return stale();
  const leadId = Number(parts[3]);
  if (parts.length === 5) {
    if (state.setLeadStatus(cid, leadId, parts[4] as LeadAction) === "not_found") return stale();
    return json(200, { ok: true });
  }
  if (method === "DELETE") {
    if (!state.deleteLead(cid, leadId)) return stale();
    return new Response("success", { headers: { "content-type": "text/plain; charset=utf-8" } });
  }
  const checked = validateLeadBody(body.value, behaviour.maxCustomFields);
  if (!checked.ok) return json(400, checked.error);
  if (!campaign.mapIds.has(leadId)) return stale();
  if (behaviour.updateAnswer === "ok-false") return json(200, { ok: false });
  const outcome = state.updateLead(cid, leadId, checked.value);
  if (outcome === "not_found") return stale();
  if (outcome === "conflict") return json(400, { error: "Email already belongs to another lead" });
  return json(200, { ok: true });
}

/** Start a sandbox on 127.0.0.1 (port 0 by default). Always `await sb.close()`. */
export function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const apiKey = opts.apiKey ?? "sandbox-key";
  const hostname = opts.hostname ?? "127.0.0.1";
  const latencyMs = opts.latencyMs ?? 0;
  const keepAlive = opts.keepAlive ?? false;
  const log = opts.log ?? (() => {});
  const state = new SandboxState(opts.campaignIds ?? [1], opts.credits ?? null);
  const behaviour: Behaviour = {
    ...DEFAULT_BEHAVIOUR,
    // `staleLeadStatus: 500` is the older spelling of `behaviour.staleId: "500"`.
    ...(opts.staleLeadStatus === 500 ? { staleId: "500" as const } : {}),
    ...opts.behaviour,
  };
  const faults = new FaultBook();
  const rate = new RateWindow(opts.rate ?? null);
  const requests: RecordedRequest[] = [];
  const closing = new AbortController();
  const routeOpts = {
    exportCustomFields: opts.exportCustomFields ?? "json" as const,
    staleLeadStatus: opts.staleLeadStatus ?? 404 as const,
  };

  async function control(req: Request, url: URL): Promise<Response> {
    const body = await readBody(req);
    const what = `${req.method} ${url.pathname}`;
    if (what === "GET /__sandbox/state") {
      const campaigns = [...state.campaigns.values()].map((c) => ({
        id: c.id,
        name: c.name,
        leads: state.campaignLeads(c.id).map((l) => ({
          ...leadJson(l),
          status: c.statuses.get(l.id),
          writes: l.writes,
        })),
      }));
      const { credits, addCount, updateCount, deleteCount, statusCount } = state;
      return json(200, {
        campaigns,
        requests: requests.length,
        credits,
        addCount,
        updateCount,
        deleteCount,
        statusCount,
      });
    }
    if (!body.ok) return json(400, { message: "Invalid JSON" });
    if (what === "POST /__sandbox/faults") {
      const rule = parseFaultRule(body.value);
      if (typeof rule === "string") return json(400, { message: rule });
      faults.add(rule);
      return new Response(null, { status: 204 });
    }
    if (what === "POST /__sandbox/credits") {
      const credits = (body.value as { credits?: unknown } | undefined)?.credits;
      if (credits !== null && typeof credits !== "number") {
        return json(400, { message: "credits must be a number or null" });
      }
      state.credits = credits;
      return new Response(null, { status: 204 });
    }
    if (what === "POST /__sandbox/behaviour") {
      const change = parseBehaviour(body.value);
      if (typeof change === "string") return json(400, { message: change });
      Object.assign(behaviour, change);
      return json(200, behaviour);
    }
    if (what === "POST /__sandbox/remove-lead") {
      const v = (body.value ?? {}) as { email?: unknown; campaign_id?: unknown };
      if (typeof v.email !== "string") return json(400, { message: "email must be a string" });
      if (v.campaign_id !== undefined && typeof v.campaign_id !== "number") {
        return json(400, { message: "campaign_id must be a number" });
      }
      const removed = state.removeLead(v.email, v.campaign_id as number | undefined);
      return removed ? new Response(null, { status: 204 }) : json(404, { message: "no such lead" });
    }
    if (what === "POST /__sandbox/edit") {
      // {email, fields?: {first_name: "x" | null, ...}, custom_fields?: {K: "v" | null}}
      const e = (body.value ?? {}) as {
        email?: unknown;
        fields?: unknown;
        custom_fields?: unknown;
      };
      if (typeof e.email !== "string") return json(400, { message: "email must be a string" });
      const edit = {
        ...(e.fields ? { fields: e.fields as Record<string, string | null> } : {}),
        ...(e.custom_fields
          ? { custom_fields: e.custom_fields as Record<string, string | null> }
          : {}),
      };
      if (!state.editLead(e.email, edit)) return json(404, { message: "no such lead" });
      return new Response(null, { status: 204 });
    }
    if (what === "POST /__sandbox/roster-nulls") {
      const n = (body.value ?? {}) as { lead?: unknown; email?: unknown };
      if (typeof n.lead !== "number" || typeof n.email !== "number") {
        return json(400, { message: "roster-nulls must be {lead: n, email: n}" });
      }
      state.rosterNulls = { lead: n.lead, email: n.email };
      return new Response(null, { status: 204 });
    }
    if (what === "POST /__sandbox/rate") {
      const r = (body.value ?? null) as Partial<Record<keyof RateConfig, unknown>> | null;
      const bad = r !== null && (typeof r.requests !== "number" ||
        typeof r.windowMs !== "number" ||
        (r.lockoutMs !== undefined && typeof r.lockoutMs !== "number") ||
        (r.retryAfter !== undefined && typeof r.retryAfter !== "boolean") ||
        (r.reset !== undefined && !["delta", "epoch", "none"].includes(r.reset as string)));
      if (bad) {
        return json(400, {
          message:
            "rate must be {requests, windowMs, lockoutMs?, retryAfter?, reset?: delta|epoch|none} or null",
        });
      }
      rate.set(r as RateConfig | null);
      return new Response(null, { status: 204 });
    }
    return notFound();
  }

  async function api(req: Request, url: URL, signal: AbortSignal): Promise<Response | "drop"> {
    const agent = req.headers.get("user-agent") ?? "";
    if (opts.blockUserAgent && agent.toLowerCase().includes(opts.blockUserAgent.toLowerCase())) {
      await req.body?.cancel();
      requests.push({ method: req.method, path: redactPath(url), status: 403, at: Date.now() });
      return new Response("error code: 1010", {
        status: 403,
        headers: { "content-type": "text/plain; charset=UTF-8", "server": "cloudflare" },
      });
    }
    if (url.searchParams.get("api_key") !== apiKey) {
      await req.body?.cancel();
      return json(401, { message: "Invalid API Key" });
    }
    const at = (opts.now ?? Date.now)();
    const body = await readBody(req);
    const record: RecordedRequest = { method: req.method, path: redactPath(url), status: 0, at };
    if (body.value !== undefined) record.body = body.value;
    requests.push(record);

    const verdict = rate.admit(at);
    const limits = verdict && rate.rate ? rateHeaders(verdict, rate.rate, at) : {};
    if (verdict && !verdict.allowed) {
      record.status = 429;
      return json(429, { message: "Rate limit exceeded" }, limits);
    }
    const run = () => route(state, req.method, url, body, behaviour, routeOpts);
    const fault = faults.take(req.method, url.pathname);
    let res: Response | "drop";
    switch (fault?.kind) {
      case undefined:
        res = run();
        break;
      case "status":
        if (fault.when === "after") run();
        res = faultResponse(fault);
        break;
      case "drop":
        if (fault.when === "after") run();
        res = "drop";
        break;
      case "delay":
        res = run();
        await sleep(fault.ms, signal);
        break;
      case "rate_limit":
        res = json(
          429,
          { message: "Rate limit exceeded" },
          fault.retryAfter === undefined ? {} : { "retry-after": String(fault.retryAfter) },
        );
        break;
      case "redirect":
        res = new Response(null, {
          status: fault.status,
          headers: { location: fault.to.replace(/\/+$/, "") + url.pathname + url.search },
        });
        break;
      case "endless_body":
        res = endlessBody();
        break;
    }
    if (res !== "drop") { for (const [k, v] of Object.entries(limits)) res.headers.set(k, v); }
    record.status = res === "drop" ? 0 : res.status;
    return res;
  }

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req, info) => {
      const url = new URL(req.url);
      if (url.pathname.startsWith("/__sandbox/")) return await control(req, url);
      if (url.pathname !== BASE && !url.pathname.startsWith(`${BASE}/`)) {
        await req.body?.cancel();
        return notFound();
      }
      const signal = closing.signal; // req.signal would abort on success (legacy Deno.serve)
      const res = await api(req, url, signal);
      await sleep(latencyMs, signal);
      log(`${req.method} ${redactPath(url)} -> ${res === "drop" ? "dropped" : res.status}`);
      if (res !== "drop") {
        if (!keepAlive) res.headers.set("connection", "close");
        return res;
      }
      proxy.drop(info.remoteAddr.port);
      return new Response(null, { status: 502 }); // never delivered: the socket is gone
    },
  );
  let proxy: DropProxy;
  try {
    proxy = new DropProxy(hostname, opts.port ?? 0, server.addr);
  } catch (e) {
    // The port is taken (or not ours to take): stop the server behind it, then say so.
    closing.abort();
    return server.shutdown().then(() => Promise.reject(e));
  }
  const host = hostname === "0.0.0.0"
    ? "127.0.0.1"
    : hostname.includes(":")
    ? `[${hostname}]`
    : hostname;

  const sb: Sandbox = {
    url: `http://${host}:${proxy.addr.port}${BASE}`,
    apiKey,
    state,
    requests,
    addFault: (rule) => faults.add(rule),
    setCredits: (n) => {
      state.credits = n;
    },
    setRate: (r) => rate.set(r),
    behaviour,
    setBehaviour: (change) => {
      Object.assign(behaviour, change);
    },
    removeLead: (email, campaignId) => state.removeLead(email, campaignId),
    close: async () => {
      closing.abort();
      await proxy.close();
      await server.shutdown();
    },
  };
  return Promise.resolve(sb);
}

/** A few lines telling a human how to point the CLI at this sandbox. */
export function formatBanner(sb: Sandbox): string {
  const ids = [...sb.state.campaigns.keys()];
  return [
    `Smartlead sandbox listening`,
    `  base URL:     ${sb.url}`,
    `  API key:      ${sb.apiKey}`,
    `  campaign ids: ${ids.join(", ")}`,
    `Try:`,
    `  SMARTLEAD_BASE_URL=${sb.url} SMARTLEAD_API_KEY=${sb.apiKey} ` +
    `smartlead-sync push examples/leads.csv --campaign-id ${ids[0] ?? 1}`,
  ].join("\n");
}
