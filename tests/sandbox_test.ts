import assert from "node:assert/strict";
import { rateHeaders, RateWindow } from "../lib/sandbox/faults.ts";
import {
  formatBanner,
  type Sandbox,
  type SandboxOptions,
  startSandbox,
} from "../lib/sandbox/server.ts";

interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
}

/** Call the sandbox API over real HTTP; `path` is relative to the base URL. */
async function call(
  sb: Sandbox,
  method: string,
  path: string,
  body?: unknown,
  key: string = sb.apiKey,
): Promise<Answer> {
  const sep = path.includes("?") ? "&" : "?";
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    init.headers = { "content-type": "application/json" };
  }
  const res = await fetch(`${sb.url}${path}${sep}api_key=${encodeURIComponent(key)}`, init);
  const text = await res.text();
  const json = (res.headers.get("content-type") ?? "").includes("json") && text !== "";
  return { status: res.status, headers: res.headers, body: json ? JSON.parse(text) : text };
}

async function withSandbox(
  opts: SandboxOptions,
  fn: (sb: Sandbox) => Promise<void>,
): Promise<void> {
  const sb = await startSandbox(opts);
  try {
    await fn(sb);
  } finally {
    await sb.close();
  }
}

const lead = (email: string, extra: Record<string, unknown> = {}) => ({ email, ...extra });
const add = (sb: Sandbox, cid: number, leads: unknown[], settings?: Record<string, boolean>) =>
  call(
    sb,
    "POST",
    `/campaigns/${cid}/leads`,
    settings ? { lead_list: leads, settings } : {
      lead_list: leads,
    },
  );

Deno.test("auth: wrong key is 401 and not recorded; recorded paths hide the key", async () => {
  await withSandbox({ apiKey: "secret-123" }, async (sb) => {
    const bad = await call(sb, "GET", "/campaigns/1", undefined, "nope");
    assert.equal(bad.status, 401);
    assert.deepEqual(bad.body, { message: "Invalid API Key" });
    assert.equal(sb.requests.length, 0);
    const ok = await call(sb, "GET", "/campaigns/1?x=1");
    assert.equal(ok.status, 200);
    assert.equal(sb.requests.length, 1);
    assert.equal(sb.requests[0]?.path, "/api/v1/campaigns/1?x=1&api_key=***");
    assert.equal(sb.requests[0]?.status, 200);
    assert.ok(!JSON.stringify(sb.requests).includes("secret-123"));
  });
});

Deno.test("campaigns: known, unknown 404, non-numeric 400, unknown route 404", async () => {
  await withSandbox({ campaignIds: [1, 7] }, async (sb) => {
    const known = await call(sb, "GET", "/campaigns/7");
    assert.equal(known.status, 200);
    const c = known.body as Record<string, unknown>;
    assert.deepEqual([c.id, c.name, c.status], [7, "Sandbox campaign 7", "ACTIVE"]);
    assert.equal(typeof c.created_at, "string");
    const unknown = await call(sb, "GET", "/campaigns/2");
    assert.equal(unknown.status, 404);
    assert.deepEqual(unknown.body, { error: "Campaign not found - Invalid campaign_id." });
    const addUnknown = await add(sb, 2, [lead("a@x.com")]);
    assert.equal(addUnknown.status, 404);
    assert.equal((await call(sb, "GET", "/campaigns/abc")).status, 400);
    const other = await call(sb, "GET", "/nothing/here");
    assert.deepEqual([other.status, other.body], [404, { message: "Not found" }]);
  });
});

Deno.test("add leads: strict validation", async () => {
  await withSandbox({}, async (sb) => {
    const unknownKey = await add(sb, 1, [lead("a@x.com", { company: "Acme" })]);
    assert.equal(unknownKey.status, 400);
    assert.deepEqual(unknownKey.body, {
      statusCode: 400,
      error: "Bad Request",
      message: '"lead_list[0].company" is not allowed',
      validation: { source: "body", keys: ["lead_list[0].company"] },
    });
    const nonString = await add(sb, 1, [lead("a@x.com"), lead("b@x.com", { phone_number: 5 })]);
    assert.equal(nonString.status, 400);
    assert.equal(
      (nonString.body as { message: string }).message,
      '"lead_list[1].phone_number" must be a string',
    );
    const badSetting = await call(sb, "POST", "/campaigns/1/leads", {
      lead_list: [lead("a@x.com")],
      settings: { dedupe: true },
    });
    assert.equal(
      (badSetting.body as { message: string }).message,
      '"settings.dedupe" is not allowed',
    );
    const topLevel = await call(sb, "POST", "/campaigns/1/leads", { lead_list: [], tags: [] });
    assert.equal((topLevel.body as { message: string }).message, '"tags" is not allowed');
    const noEmail = await add(sb, 1, [{ first_name: "A" }]);
    assert.equal((noEmail.body as { message: string }).message, '"lead_list[0].email" is required');
    const badCustom = await add(sb, 1, [lead("a@x.com", { custom_fields: { n: 1 } })]);
    assert.equal(
      (badCustom.body as { message: string }).message,
      '"lead_list[0].custom_fields.n" must be a string',
    );
    const malformed = await call(sb, "POST", "/campaigns/1/leads", "{not json");
    assert.equal(malformed.status, 400);
    const tooMany = await add(sb, 1, Array.from({ length: 401 }, (_, i) => lead(`l${i}@x.com`)));
    assert.equal(tooMany.status, 422);
    assert.deepEqual(tooMany.body, { message: "lead_list cannot exceed 400 leads per request" });
    assert.equal(sb.state.leads.size, 0);
    assert.equal(sb.state.addCount, 0);
  });
});

Deno.test("add leads: counters for a mixed batch, overwrite of existing members", async () => {
  await withSandbox({}, async (sb) => {
    sb.state.blocklist.add("blocked@x.com");
    sb.state.unsubscribed.add("gone@x.com");
    const first = await add(sb, 1, [
      lead("old@x.com", { first_name: "Old", custom_fields: { A: "1" } }),
    ]);
    assert.equal((first.body as { total_leads: number }).total_leads, 1);
    const res = await add(sb, 1, [
      lead("new@x.com", { first_name: "New" }),
      lead("not-an-email"),
      lead("NEW@x.com"),
      lead("old@x.com", { first_name: "Renamed", custom_fields: { B: "2" } }),
      lead("blocked@x.com"),
      lead("gone@x.com"),
    ]);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {
      ok: true,
      upload_count: 6,
      total_leads: 1,
      skipped_in_other_campaign_count: 0,
      block_count: 1,
      duplicate_count: 1,
      invalid_email_count: 1,
      invalid_emails: ["not-an-email"],
      already_added_to_campaign: 1,
      unsubscribed_leads: ["gone@x.com"],
      is_lead_limit_exhausted: false,
      lead_import_stopped_count: 0,
      bounce_count: 0,
    });
    const old = sb.state.leads.get("old@x.com");
    assert.equal(old?.first_name, "Renamed");
    assert.deepEqual(old?.custom_fields, { A: "1", B: "2" });
    assert.equal(old?.writes, 2);
    assert.deepEqual(sb.state.campaignLeads(1).map((l) => l.email), ["old@x.com", "new@x.com"]);
    assert.deepEqual(sb.state.campaignLeads(1).map((l) => l.id), [2995276770, 2995276771]);
    assert.equal(sb.state.addCount, 2);
  });
});

Deno.test("add leads: return_lead_ids and leads in other campaigns", async () => {
  await withSandbox({ campaignIds: [1, 2] }, async (sb) => {
    await add(sb, 2, [lead("other@x.com"), lead("both@x.com")]);
    await add(sb, 1, [lead("both@x.com")]);
    const skipped = await add(sb, 1, [lead("other@x.com")], {
      ignore_duplicate_leads_in_other_campaign: true,
    });
    const sk = skipped.body as Record<string, number>;
    assert.deepEqual([sk.skipped_in_other_campaign_count, sk.total_leads], [1, 0]);
    const res = await add(sb, 1, [lead("fresh@x.com"), lead("both@x.com"), lead("other@x.com")], {
      return_lead_ids: true,
    });
    const body = res.body as Record<string, unknown>;
    assert.equal(body.total_leads, 2);
    assert.equal(body.already_added_to_campaign, 1);
    assert.deepEqual(body.emailToLeadIdMap, {
      newlyAddedLeads: { "fresh@x.com": "2995276772" },
      existingLeads: { "both@x.com": "2995276771" },
      existingLeadsInOtherCampaigns: { "other@x.com": "2995276770" },
    });
    assert.equal(sb.state.campaigns.get(1)?.leadIds.length, 3);
  });
});

Deno.test("add leads: credits run out mid-batch", async () => {
  await withSandbox({ credits: 2 }, async (sb) => {
    await add(sb, 1, [lead("a@x.com")]);
    const res = await add(sb, 1, [
      lead("a@x.com"),
      lead("b@x.com"),
      lead("c@x.com"),
      lead("d@x.com"),
    ]);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {
      ok: false,
      is_lead_limit_exhausted: true,
      lead_import_stopped_count: 2,
      error: "The lead credit limit has been reached, preventing any further lead imports.",
    });
    assert.deepEqual([...sb.state.leads.keys()], ["a@x.com", "b@x.com"]);
    assert.equal(sb.state.credits, 0);
    sb.setCredits(null);
    const more = await add(sb, 1, [lead("c@x.com")]);
    assert.equal((more.body as { total_leads: number }).total_leads, 1);
  });
});

Deno.test("roster paging, total as string, limit capped at 100", async () => {
  await withSandbox({}, async (sb) => {
    await add(sb, 1, [1, 2, 3, 4, 5].map((n) => lead(`p${n}@x.com`, { first_name: `P${n}` })));
    const page = await call(sb, "GET", "/campaigns/1/leads?offset=1&limit=2");
    assert.equal(page.status, 200);
    const body = page.body as {
      total_leads: string;
      offset: number;
      limit: number;
      data: { campaign_lead_map_id: number; status: string; lead: Record<string, unknown> }[];
    };
    assert.equal(body.total_leads, "5");
    assert.deepEqual([body.offset, body.limit], [1, 2]);
    assert.deepEqual(body.data.map((d) => d.lead.email), ["p2@x.com", "p3@x.com"]);
    assert.deepEqual(body.data.map((d) => d.lead.id), [2995276771, 2995276772]);
    assert.equal(body.data[0]?.status, "STARTED"); // imported, never emailed
    assert.equal(body.data[0]?.lead.first_name, "P2");
    assert.equal(body.data[0]?.lead.phone_number, null);
    assert.deepEqual(body.data[0]?.lead.custom_fields, {});
    assert.notEqual(body.data[0]?.campaign_lead_map_id, body.data[1]?.campaign_lead_map_id);
    const tooBig = await call(sb, "GET", "/campaigns/1/leads?limit=101");
    assert.equal(tooBig.status, 400);
    const rest = await call(sb, "GET", "/campaigns/1/leads?offset=4");
    assert.equal((rest.body as typeof body).data.length, 1);
  });
});

Deno.test("get lead by email, update merges custom fields, delete", async () => {
  await withSandbox({ campaignIds: [1, 2] }, async (sb) => {
    await add(sb, 1, [lead("Ann@X.com", { first_name: "Ann", custom_fields: { A: "1" } })]);
    await add(sb, 2, [lead("ann@x.com")]);
    const found = await call(sb, "GET", "/leads/?email=ann%40x.com");
    const f = found.body as { id: number; email: string; lead_campaign_data: unknown[] };
    assert.equal(f.id, 2995276770);
    assert.equal(f.email, "Ann@X.com");
    assert.deepEqual(
      f.lead_campaign_data.map((d) => (d as { campaign_id: number }).campaign_id),
      [1, 2],
    );
    const alt = await call(sb, "GET", "/leads?email=ann@x.com");
    assert.equal((alt.body as { id: number }).id, 2995276770);
    const none = await call(sb, "GET", "/leads/?email=nobody@x.com");
    assert.deepEqual([none.status, none.body], [200, {}]);

    const upd = await call(sb, "POST", "/campaigns/1/leads/2995276770", {
      email: "Ann@X.com",
      last_name: "Lee",
      custom_fields: { B: "2" },
    });
    assert.deepEqual([upd.status, upd.body], [200, { ok: true }]);
    const ann = sb.state.leads.get("ann@x.com");
    assert.deepEqual(ann?.custom_fields, { A: "1", B: "2" });
    assert.deepEqual([ann?.first_name, ann?.last_name, ann?.writes], ["Ann", "Lee", 3]);
    assert.equal(sb.state.updateCount, 1);
    const noEmail = await call(sb, "POST", "/campaigns/1/leads/2995276770", { last_name: "X" });
    assert.equal(noEmail.status, 400);
    assert.equal((noEmail.body as { message: string }).message, '"email" is required');
    const missing = await call(sb, "POST", "/campaigns/1/leads/42", { email: "z@x.com" });
    assert.deepEqual([missing.status, missing.body], [404, { error: "Lead not found" }]);

    const del = await call(sb, "DELETE", "/campaigns/1/leads/2995276770");
    assert.deepEqual([del.status, del.body], [200, "success"]);
    assert.equal(del.headers.get("content-type")?.startsWith("text/plain"), true);
    assert.equal(sb.state.leads.size, 1);
    assert.equal(sb.state.campaignLeads(1).length, 0);
    assert.equal((await call(sb, "DELETE", "/campaigns/1/leads/2995276770")).status, 404);
    await call(sb, "DELETE", "/campaigns/2/leads/2995276770");
    assert.equal(sb.state.leads.size, 0);
    assert.equal(sb.state.deleteCount, 2);
  });
});

Deno.test("rate limit: 429 with Retry-After, then success after the window", async () => {
  let now = 1_000_000; // a fake clock: the window slides only when the test moves it
  await withSandbox({ rate: { requests: 2, windowMs: 300 }, now: () => now }, async (sb) => {
    const a = await call(sb, "GET", "/campaigns/1");
    assert.equal(a.headers.get("x-ratelimit-limit"), "2");
    assert.equal(a.headers.get("x-ratelimit-remaining"), "1");
    const b = await call(sb, "GET", "/campaigns/1");
    assert.equal(b.headers.get("x-ratelimit-remaining"), "0");
    const refused = await call(sb, "GET", "/campaigns/1");
    assert.equal(refused.status, 429);
    assert.deepEqual(refused.body, { message: "Rate limit exceeded" });
    assert.equal(refused.headers.get("retry-after"), "1");
    assert.equal(refused.headers.get("x-ratelimit-limit"), "2");
    assert.equal(refused.headers.get("x-ratelimit-remaining"), "0");
    assert.equal(refused.headers.get("x-ratelimit-reset"), "1");
    now += 299;
    assert.equal((await call(sb, "GET", "/campaigns/1")).status, 429);
    now += 1;
    assert.equal((await call(sb, "GET", "/campaigns/1")).status, 200);
    assert.deepEqual(sb.requests.map((r) => r.status), [200, 200, 429, 429, 200]);
    sb.setRate(null);
    const free = await call(sb, "GET", "/campaigns/1");
    assert.equal(free.headers.get("x-ratelimit-limit"), null);
  });
});

Deno.test("rate window: lockout after each refusal, extended by refusals during it", () => {
  const w = new RateWindow({ requests: 2, windowMs: 1000, lockoutMs: 5000 });
  const allowed = (t: number) => w.admit(t)!.allowed;
  assert.deepEqual([allowed(0), allowed(10), allowed(20)], [true, true, false]);
  // The window frees at 1000, but the refusal at 20 locked the key until 5020...
  assert.equal(allowed(1500), false);
  // ...and the refusal at 1500 extended it to 6500.
  const during = w.admit(6000)!;
  assert.deepEqual([during.allowed, during.waitMs, during.resetMs], [false, 5000, 5000]);
  assert.equal(allowed(11_000), true);
  // Without a lockout, only the window counts.
  const plain = new RateWindow({ requests: 1, windowMs: 1000 });
  assert.deepEqual([plain.admit(0)!.allowed, plain.admit(1)!.allowed], [true, false]);
  assert.equal(plain.admit(1000)!.allowed, true);
});

Deno.test("rate headers: Retry-After optional, reset as delta, epoch or absent", () => {
  const refused = { allowed: false, limit: 60, remaining: 0, waitMs: 41_200, resetMs: 41_200 };
  const ok = { allowed: true, limit: 60, remaining: 17, waitMs: 0, resetMs: 300 };
  const epoch = 1_700_000_000_500;
  const base = { requests: 60, windowMs: 60_000 };
  assert.deepEqual(rateHeaders(refused, base, epoch), {
    "retry-after": "42",
    "x-ratelimit-limit": "60",
    "x-ratelimit-remaining": "0",
    "x-ratelimit-reset": "42",
  });
  assert.deepEqual(rateHeaders(ok, base, epoch), {
    "x-ratelimit-limit": "60",
    "x-ratelimit-remaining": "17",
    "x-ratelimit-reset": "1", // at least a second
  });
  assert.deepEqual(rateHeaders(refused, { ...base, retryAfter: false, reset: "epoch" }, epoch), {
    "x-ratelimit-limit": "60",
    "x-ratelimit-remaining": "0",
    "x-ratelimit-reset": "1700000042", // ceil((epoch + 41.2 s) / 1000)
  });
  assert.deepEqual(rateHeaders(refused, { ...base, retryAfter: false, reset: "none" }, epoch), {});
});

Deno.test("rate limit over HTTP: no Retry-After, a lockout, and the control endpoint", async () => {
  await withSandbox({
    rate: { requests: 1, windowMs: 60_000, retryAfter: false, reset: "none", lockoutMs: 60_000 },
  }, async (sb) => {
    const first = await call(sb, "GET", "/campaigns/1");
    assert.equal(first.status, 200);
    assert.equal(first.headers.get("x-ratelimit-limit"), null);
    const refused = await call(sb, "GET", "/campaigns/1");
    assert.deepEqual([refused.status, refused.body], [429, { message: "Rate limit exceeded" }]);
    assert.equal(refused.headers.get("retry-after"), null);
    assert.equal(refused.headers.get("x-ratelimit-reset"), null);
    const root = sb.url.replace(/\/api\/v1$/, "");
    const post = async (body: unknown) => {
      const res = await fetch(`${root}/__sandbox/rate`, {
        method: "POST",
        body: JSON.stringify(body),
      });
      await res.body?.cancel();
      return res.status;
    };
    assert.equal(await post({ requests: 1, windowMs: 1000, reset: "sometimes" }), 400);
    assert.equal(await post({ requests: 1, windowMs: 1000, lockoutMs: "long" }), 400);
    assert.equal(await post({ requests: 5, windowMs: 60_000, reset: "epoch" }), 204);
    const epoch = await call(sb, "GET", "/campaigns/1");
    assert.equal(epoch.status, 200);
    const reset = Number(epoch.headers.get("x-ratelimit-reset"));
    assert.ok(Math.abs(reset - (Date.now() / 1000 + 60)) < 5, String(reset));
  });
});

Deno.test("Cloudflare block: a matching User-Agent gets 403 'error code: 1010' as text", async () => {
  await withSandbox({ blockUserAgent: "Python-Requests" }, async (sb) => {
    const blocked = await fetch(`${sb.url}/campaigns/1?api_key=wrong`, {
      headers: { "user-agent": "python-requests/2.31" },
    });
    assert.equal(blocked.status, 403);
    assert.equal(blocked.headers.get("content-type"), "text/plain; charset=UTF-8");
    assert.equal(await blocked.text(), "error code: 1010"); // before the key is even looked at
    const other = await call(sb, "GET", "/campaigns/1");
    assert.equal(other.status, 200);
    assert.deepEqual(sb.requests.map((r) => r.status), [403, 200]);
  });
});

Deno.test("faults: status before/after, skip and times", async () => {
  await withSandbox({}, async (sb) => {
    sb.addFault({
      method: "POST",
      pathPattern: "/leads",
      times: 1,
      skip: 1,
      fault: { kind: "status", status: 503, when: "before" },
    });
    assert.equal((await add(sb, 1, [lead("a@x.com")])).status, 200); // skipped
    const before = await add(sb, 1, [lead("b@x.com")]);
    assert.deepEqual([before.status, before.body], [503, { message: "Service Unavailable" }]);
    assert.equal(sb.state.leads.has("b@x.com"), false);
    assert.equal((await add(sb, 1, [lead("c@x.com")])).status, 200); // used up

    sb.addFault({
      pathPattern: "campaigns/\\d+/leads$",
      times: 1,
      fault: { kind: "status", status: 500, when: "after", body: "oops" },
    });
    const after = await add(sb, 1, [lead("d@x.com")]);
    assert.deepEqual([after.status, after.body], [500, "oops"]);
    assert.equal(sb.state.leads.has("d@x.com"), true);
    assert.deepEqual(sb.requests.map((r) => r.status), [200, 503, 200, 500]);
    assert.deepEqual(sb.requests[3]?.body, { lead_list: [{ email: "d@x.com" }] });
  });
});

Deno.test("faults: drop makes fetch reject; 'after' applies the write", async () => {
  await withSandbox({}, async (sb) => {
    // a warm keep-alive connection first: the drop must not be retried silently by the client
    assert.equal((await call(sb, "GET", "/campaigns/1")).status, 200);
    sb.addFault({ method: "POST", times: 1, fault: { kind: "drop", when: "before" } });
    await assert.rejects(add(sb, 1, [lead("a@x.com")]), TypeError);
    assert.equal(sb.state.leads.has("a@x.com"), false);
    sb.addFault({ times: 1, fault: { kind: "drop", when: "after" } });
    await assert.rejects(add(sb, 1, [lead("b@x.com")]), TypeError);
    assert.equal(sb.state.leads.has("b@x.com"), true);
    assert.equal((await add(sb, 1, [lead("c@x.com")])).status, 200);
    assert.equal(sb.state.leads.get("b@x.com")?.writes, 1);
    assert.deepEqual(sb.requests.map((r) => r.status), [200, 0, 0, 200]);
  });
});

Deno.test("faults: with keepAlive, Deno's fetch silently re-sends a dropped request", async () => {
  // Documents a client hazard rather than a sandbox feature: on a reused connection Deno
  // retries once, so a write whose answer was lost is applied twice and fetch resolves.
  await withSandbox({ keepAlive: true }, async (sb) => {
    assert.equal((await call(sb, "GET", "/campaigns/1")).status, 200);
    sb.addFault({ method: "POST", times: 1, fault: { kind: "drop", when: "after" } });
    const res = await add(sb, 1, [lead("a@x.com")]);
    assert.equal(res.status, 200);
    assert.deepEqual(sb.requests.map((r) => r.status), [200, 0, 200]);
    assert.equal(sb.state.leads.get("a@x.com")?.writes, 2);
  });
});

Deno.test("faults: delay and injected rate_limit", async () => {
  await withSandbox({}, async (sb) => {
    sb.addFault({ times: 1, fault: { kind: "delay", ms: 150 } });
    const t0 = performance.now();
    assert.equal((await call(sb, "GET", "/campaigns/1")).status, 200);
    assert.ok(performance.now() - t0 >= 140);
    sb.addFault({ times: 1, fault: { kind: "rate_limit", retryAfter: 3 } });
    sb.addFault({ times: 1, fault: { kind: "rate_limit" } });
    const first = await call(sb, "GET", "/campaigns/1");
    assert.deepEqual([first.status, first.headers.get("retry-after")], [429, "3"]);
    const second = await call(sb, "GET", "/campaigns/1");
    assert.deepEqual([second.status, second.headers.get("retry-after")], [429, null]);
    assert.equal((await call(sb, "GET", "/campaigns/1")).status, 200);
  });
});

Deno.test("control endpoints: state, faults, credits, rate; banner", async () => {
  await withSandbox({ campaignIds: [5] }, async (sb) => {
    const root = sb.url.replace(/\/api\/v1$/, "");
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${root}/__sandbox/${path}`, {
        method: "POST",
        body: JSON.stringify(body),
      });
      await res.body?.cancel();
      return res.status;
    };
    assert.equal(await post("credits", { credits: 0 }), 204);
    assert.equal(sb.state.credits, 0);
    const exhausted = await add(sb, 5, [lead("a@x.com")]);
    assert.equal((exhausted.body as { ok: boolean }).ok, false);
    assert.equal(await post("credits", { credits: null }), 204);
    assert.equal(
      await post("faults", { times: 1, fault: { kind: "status", status: 502, when: "before" } }),
      204,
    );
    assert.equal(await post("faults", { times: 1, fault: { kind: "nope" } }), 400);
    assert.equal((await add(sb, 5, [lead("a@x.com")])).status, 502);
    await add(sb, 5, [lead("a@x.com", { first_name: "A" })]);
    assert.equal(await post("rate", { requests: 1, windowMs: 60000 }), 204);
    assert.equal((await call(sb, "GET", "/campaigns/5")).status, 200);
    assert.equal((await call(sb, "GET", "/campaigns/5")).status, 429);
    assert.equal(await post("rate", null), 204);
    const res = await fetch(`${root}/__sandbox/state`);
    const state = await res.json();
    assert.equal(state.requests, 5);
    assert.equal(state.campaigns[0].id, 5);
    assert.deepEqual(
      state.campaigns[0].leads.map((l: Record<string, unknown>) => [l.email, l.first_name]),
      [["a@x.com", "A"]],
    );
    assert.equal(sb.requests.length, 5);

    const banner = formatBanner(sb);
    assert.ok(banner.includes(sb.url));
    assert.ok(banner.includes("sandbox-key"));
    assert.ok(
      banner.includes(
        `SMARTLEAD_BASE_URL=${sb.url} SMARTLEAD_API_KEY=sandbox-key smartlead-sync push ` +
          "examples/leads.csv --campaign-id 5",
      ),
    );
  });
});

Deno.test("latency and log option", async () => {
  const lines: string[] = [];
  await withSandbox({ latencyMs: 100, log: (l) => lines.push(l) }, async (sb) => {
    const t0 = performance.now();
    await call(sb, "GET", "/campaigns/1");
    assert.ok(performance.now() - t0 >= 90);
    assert.deepEqual(lines, ["GET /api/v1/campaigns/1?api_key=*** -> 200"]);
  });
});

Deno.test("leads-export: the whole campaign as CSV, custom fields as JSON or as columns", async () => {
  await withSandbox({}, async (sb) => {
    await add(sb, 1, [
      lead("a@x.com", { first_name: "Ann", custom_fields: { Title: 'CEO, "big"' } }),
      lead("b@x.com", { company_name: "Bee" }),
    ]);
    const r = await call(sb, "GET", "/campaigns/1/leads-export");
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), "text/csv; charset=utf-8");
    assert.equal(
      r.body,
      "id,campaign_lead_map_id,status,created_at,email,first_name,last_name,phone_number," +
        "company_name,website,location,linkedin_profile,company_url,custom_fields\r\n" +
        `2995276770,1800000001,STARTED,${sb.state.leads.get("a@x.com")!.created_at},a@x.com,` +
        'Ann,,,,,,,,"{""Title"":""CEO, \\""big\\""""}"\r\n' +
        `2995276771,1800000002,STARTED,${sb.state.leads.get("b@x.com")!.created_at},b@x.com,` +
        ",,,Bee,,,,,{}\r\n",
    );
    assert.equal((await call(sb, "GET", "/campaigns/9/leads-export")).status, 404);
    assert.equal((await call(sb, "POST", "/campaigns/1/leads-export", {})).status, 404);
  });
  await withSandbox({ exportCustomFields: "columns" }, async (sb) => {
    await add(sb, 1, [lead("a@x.com", { custom_fields: { Title: "CEO" } }), lead("b@x.com")]);
    const text = (await call(sb, "GET", "/campaigns/1/leads-export")).body as string;
    const [header, first, second] = text.split("\r\n");
    assert.ok(header!.endsWith(",company_url,Title"), String(header));
    assert.ok(first!.endsWith(",a@x.com,,,,,,,,,CEO"), String(first));
    assert.ok(second!.endsWith(",b@x.com,,,,,,,,,"), String(second));
  });
});

Deno.test("pause, resume, unsubscribe: statuses in the roster and export; a re-add does not resume", async () => {
  await withSandbox({}, async (sb) => {
    await add(sb, 1, [lead("a@x.com"), lead("b@x.com")]);
    const id = 2995276770;
    const statuses = async () => {
      const page = (await call(sb, "GET", "/campaigns/1/leads")).body as {
        data: Array<{ status: string }>;
      };
      return page.data.map((d) => d.status);
    };
    const paused = await call(sb, "POST", `/campaigns/1/leads/${id}/pause`);
    assert.deepEqual([paused.status, paused.body], [200, { ok: true }]);
    assert.deepEqual(await statuses(), ["PAUSED", "STARTED"]);
    const csv = (await call(sb, "GET", "/campaigns/1/leads-export")).body as string;
    assert.match(csv.split("\r\n")[1]!, /^2995276770,1800000001,PAUSED,/);
    await add(sb, 1, [lead("a@x.com", { first_name: "Again" })]);
    assert.deepEqual(await statuses(), ["PAUSED", "STARTED"]); // a re-add does not resume
    assert.equal(sb.state.leads.get("a@x.com")!.first_name, "Again");
    await call(sb, "POST", `/campaigns/1/leads/${id}/resume`, { resume_lead_with_delay_days: 0 });
    assert.deepEqual(await statuses(), ["INPROGRESS", "STARTED"]);
    await call(sb, "POST", `/campaigns/1/leads/${id + 1}/unsubscribe`);
    await call(sb, "POST", `/campaigns/1/leads/${id + 1}/pause`); // stays unsubscribed
    await call(sb, "POST", `/campaigns/1/leads/${id + 1}/resume`);
    assert.deepEqual(await statuses(), ["INPROGRESS", "STOPPED"]);
    assert.equal(sb.state.statusCount, 5);
    const stale = await call(sb, "POST", "/campaigns/1/leads/42/pause");
    assert.deepEqual([stale.status, stale.body], [404, { error: "Lead not found" }]);
    assert.equal((await call(sb, "POST", `/campaigns/1/leads/${id}/archive`)).status, 404);
    assert.equal((await call(sb, "GET", `/campaigns/1/leads/${id}/pause`)).status, 404);
  });
  await withSandbox({ staleLeadStatus: 500 }, async (sb) => {
    const stale = await call(sb, "POST", "/campaigns/1/leads/42/resume");
    assert.deepEqual([stale.status, stale.body], [500, { error: "Invalid lead id" }]);
  });
});

Deno.test("roster nulls and UI edits through the control endpoints", async () => {
  await withSandbox({}, async (sb) => {
    await add(sb, 1, [lead("a@x.com", { first_name: "Ann", custom_fields: { T: "1", U: "2" } })]);
    const ctl = (path: string, body: unknown) =>
      fetch(new URL(`/__sandbox/${path}`, sb.url), { method: "POST", body: JSON.stringify(body) });
    assert.equal((await ctl("roster-nulls", { lead: 1, email: 2 })).status, 204);
    const page = (await call(sb, "GET", "/campaigns/1/leads")).body as {
      total_leads: string;
      data: Array<{ lead: { email: string | null } | null }>;
    };
    assert.equal(page.total_leads, "4");
    assert.deepEqual(page.data.map((d) => d.lead === null ? "no lead" : d.lead.email), [
      "a@x.com",
      "no lead",
      null,
      null,
    ]);
    const csv = (await call(sb, "GET", "/campaigns/1/leads-export")).body as string;
    assert.deepEqual(csv.split("\r\n").map((l) => l.split(",")[4]), [
      "email",
      "a@x.com",
      "",
      "",
      "",
      undefined,
    ]);
    const edit = await ctl("edit", {
      email: "A@x.com",
      fields: { first_name: "Anne", last_name: "Lee" },
      custom_fields: { T: "9", U: null },
    });
    assert.equal(edit.status, 204);
    const a = sb.state.leads.get("a@x.com")!;
    assert.deepEqual([a.first_name, a.last_name, a.custom_fields, a.writes], [
      "Anne",
      "Lee",
      { T: "9" },
      1,
    ]);
    assert.equal((await ctl("edit", { email: "nobody@x.com", fields: {} })).status, 404);
    assert.equal((await ctl("roster-nulls", { lead: "x" })).status, 400);
  });
});
