/**
 * Unit tests: reading Smartlead's answers leniently, deciding each lead from counters,
 * classifying writes on one lead id, what a 400 names, clearing, and the plan's cost.
 */
import assert from "node:assert/strict";
import {
  classifyLeadWrite,
  isLeadWriteVerdict,
  namedInRefusal,
  readAddAnswer,
} from "../lib/client/answers.ts";
import { decideAdd } from "../lib/pipeline/add_outcome.ts";
import { fieldNamesOf, withClears } from "../lib/pipeline/clearing.ts";
import { describeCost, planCost } from "../lib/pipeline/estimate.ts";

const LIVE = {
  ok: true,
  upload_count: 1,
  total_leads: 0,
  skipped_in_other_campaign_count: 1,
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

Deno.test("readAddAnswer: any body is read, counters from numbers and numeric strings", () => {
  const old = readAddAnswer({
    ok: true,
    upload_count: "3",
    total_leads: "2",
    already_added_to_campaign: "1",
    unsubscribed_leads: 0,
    invalid_emails: ["X@Ex.com", { email: "y@ex.com" }],
  });
  assert.deepEqual(old.counters, {
    upload_count: 3,
    total_leads: 2,
    already_added_to_campaign: 1,
    unsubscribed_leads: 0,
  });
  assert.deepEqual(old.invalid, ["x@ex.com", "y@ex.com"]);
  assert.equal(old.ids, null);
  for (const body of [{}, { ok: true }, null, "success", [1, 2]]) {
    const a = readAddAnswer(body);
    assert.deepEqual(a.counters, {});
    assert.equal(a.ids, null);
    assert.equal(a.limitExhausted, false);
  }
  const map = readAddAnswer({
    emailToLeadIdMap: { newlyAddedLeads: { "A@ex.com": "12" }, existingLeads: null },
  });
  assert.deepEqual([...map.ids!.fresh], [["a@ex.com", 12]]);
  assert.equal(map.ids!.existing.size, 0);
  assert.equal(readAddAnswer({ is_lead_limit_exhausted: "true" }).limitExhausted, true);
});

Deno.test("decideAdd: from the id map and the counters, never from a setting", async (t) => {
  const emails = ["a@ex.com", "b@ex.com", "c@ex.com"];
  const kinds = (answer: unknown, list = emails) =>
    decideAdd(list, readAddAnswer(answer)).verdicts.map((v) => v.kind);
  await t.step("the live capture: a lead in another campaign, skipped", () => {
    const d = decideAdd(["a@ex.com"], readAddAnswer(LIVE));
    assert.deepEqual(d.verdicts, [{
      kind: "refused",
      reason: "Smartlead skipped it: the lead is in another campaign",
    }]);
  });
  await t.step("in no bucket of the map is unknown unless the counters say", () => {
    const ids = { newlyAddedLeads: { "a@ex.com": 1 }, existingLeads: { "b@ex.com": 2 } };
    assert.deepEqual(kinds({ emailToLeadIdMap: ids }), ["added", "present", "unknown"]);
    assert.deepEqual(
      kinds({
        emailToLeadIdMap: ids,
        total_leads: 1,
        already_added_to_campaign: 1,
        block_count: 1,
      }),
      ["added", "present", "refused"],
    );
    assert.deepEqual(
      kinds({ emailToLeadIdMap: ids, total_leads: 2, already_added_to_campaign: 1 }),
      ["added", "present", "added"],
    );
  });
  await t.step("no map: counters decide when they fit, else unknown", () => {
    assert.deepEqual(kinds({ total_leads: "3", already_added_to_campaign: "0" }), [
      "added",
      "added",
      "added",
    ]);
    assert.deepEqual(kinds({ total_leads: 0, already_added_to_campaign: 3 }), [
      "present",
      "present",
      "present",
    ]);
    const mixed = decideAdd(
      emails,
      readAddAnswer({ total_leads: 1, already_added_to_campaign: 2 }),
    );
    assert.deepEqual(mixed.verdicts.map((v) => v.kind), ["member", "member", "member"]);
    assert.equal(mixed.presentSlots, 2);
    // Some refused, some in: which ones is not said.
    assert.deepEqual(kinds({ total_leads: 2, already_added_to_campaign: 0, block_count: 1 }), [
      "unknown",
      "unknown",
      "unknown",
    ]);
    // Counters that do not fit the batch.
    assert.deepEqual(kinds({ total_leads: 5, already_added_to_campaign: 0 }), [
      "unknown",
      "unknown",
      "unknown",
    ]);
    // Only total_leads (sparse): decides only when it covers every lead.
    assert.deepEqual(kinds({ ok: true, upload_count: 3, total_leads: 3 }), [
      "added",
      "added",
      "added",
    ]);
    assert.deepEqual(kinds({ ok: true, upload_count: 3, total_leads: 2 }), [
      "unknown",
      "unknown",
      "unknown",
    ]);
    assert.deepEqual(kinds({}), ["unknown", "unknown", "unknown"]);
    assert.deepEqual(kinds({ ok: true }), ["unknown", "unknown", "unknown"]);
  });
  await t.step("named lists win; the old docs' unsubscribed count gives the reason", () => {
    assert.deepEqual(
      decideAdd(
        emails,
        readAddAnswer({
          invalid_emails: ["c@ex.com"],
          total_leads: 1,
          already_added_to_campaign: 0,
          unsubscribed_leads: 1,
        }),
      ).verdicts,
      [
        { kind: "unknown", leadId: null },
        { kind: "unknown", leadId: null },
        { kind: "refused", reason: "Smartlead: invalid email" },
      ],
    );
    assert.deepEqual(
      decideAdd(
        ["a@ex.com"],
        readAddAnswer({
          total_leads: "0",
          already_added_to_campaign: "0",
          unsubscribed_leads: 1,
        }),
      ).verdicts,
      [{ kind: "refused", reason: "Smartlead: unsubscribed" }],
    );
  });
});

Deno.test("classifyLeadWrite: success, ok:false, stale ids (sure or not), the credit limit", () => {
  assert.deepEqual(classifyLeadWrite(200, { ok: true }, '{"ok":true}'), { kind: "ok" });
  assert.deepEqual(classifyLeadWrite(200, null, "success"), { kind: "ok" });
  assert.deepEqual(classifyLeadWrite(200, { ok: false }, '{"ok":false}'), {
    kind: "not_applied",
    message: "ok: false without a reason",
  });
  assert.deepEqual(classifyLeadWrite(200, {}, "{}"), {
    kind: "not_applied",
    message: "not a success: {}",
  });
  assert.deepEqual(classifyLeadWrite(200, null, "", "lenient"), { kind: "ok" });
  assert.deepEqual(classifyLeadWrite(500, { error: "Invalid lead id" }, ""), {
    kind: "stale",
    sure: true,
    message: "Invalid lead id",
  });
  assert.deepEqual(classifyLeadWrite(404, { ok: false, error: "Invalid request!" }, ""), {
    kind: "stale",
    sure: false,
    message: "Invalid request!",
  });
  assert.deepEqual(classifyLeadWrite(200, { ok: false, error: "Lead not found" }, ""), {
    kind: "stale",
    sure: true,
    message: "Lead not found",
  });
  assert.equal(
    classifyLeadWrite(402, { ok: false, is_lead_limit_exhausted: true, error: "credits" }, "")
      .kind,
    "limit",
  );
  // The client hands these to the classifier instead of retrying or throwing.
  assert.equal(isLeadWriteVerdict(500, { error: "Invalid lead id" }, ""), true);
  assert.equal(isLeadWriteVerdict(500, { message: "Internal Server Error" }, ""), false);
  assert.equal(isLeadWriteVerdict(400, { message: '"email" is required' }, ""), false);
});

Deno.test("namedInRefusal: leads by position, request-level keys, or nothing", () => {
  const one = namedInRefusal({
    statusCode: 400,
    error: "Bad Request",
    message: '"lead_list[3].company" is not allowed',
    validation: { source: "body", keys: ["lead_list[3].company"] },
  });
  assert.deepEqual([...one.leads], [[3, {
    key: "lead_list[3].company",
    message: '"lead_list[3].company" is not allowed',
  }]]);
  assert.equal(one.request, undefined);
  const fromMessage = namedInRefusal({ message: '"lead_list[0].custom_fields" must have ...' });
  assert.deepEqual([...fromMessage.leads.keys()], [0]);
  const settings = namedInRefusal({
    message: '"settings.update" is not allowed',
    validation: { keys: ["settings.update"] },
  });
  assert.deepEqual([settings.leads.size, settings.request?.key], [0, "settings.update"]);
  const nothing = namedInRefusal({ message: 'Campaign "X" is paused' });
  assert.deepEqual([nothing.leads.size, nothing.request], [0, undefined]);
  assert.deepEqual([namedInRefusal("oops").leads.size, namedInRefusal(null).request], [
    0,
    undefined,
  ]);
});

Deno.test("clearing: the fields the last accepted payload had become empty strings", () => {
  const before = {
    email: "a@ex.com",
    first_name: "A",
    company_name: "Co",
    custom_fields: { T: "x", U: "y" },
  };
  const names = fieldNamesOf(before);
  assert.equal(names, '[["first_name","company_name"],["T","U"]]');
  assert.equal(fieldNamesOf(JSON.stringify(before)), names);
  const now = { email: "a@ex.com", first_name: "B", custom_fields: { U: "z" } };
  assert.deepEqual(withClears(now, names), {
    payload: {
      email: "a@ex.com",
      first_name: "B",
      company_name: "",
      custom_fields: { U: "z", T: "" },
    },
    cleared: ["company_name", "custom_fields.T"],
  });
  assert.deepEqual(withClears({ email: "a@ex.com" }, '[[],["T"]]').payload, {
    email: "a@ex.com",
    custom_fields: { T: "" },
  });
  // Nothing known (an index from before field sets), or nothing dropped: sent as it is.
  assert.deepEqual(withClears(now, undefined), { payload: now, cleared: [] });
  assert.deepEqual(withClears(before, names), { payload: before, cleared: [] });
  assert.deepEqual(withClears(now, "not json").cleared, []);
});

Deno.test("planCost: requests per phase, time at the budget, the cheaper update path", () => {
  const rate = { requests: 10, windowMs: 2000 };
  const small = planCost({ add: 250, update: 30, delete: 2 }, {
    batchSize: 100,
    rate,
    updateVia: "lead",
  });
  assert.deepEqual(small, {
    requests: { add: 3, update: 30, delete: 2 },
    estimated_ms: 7000,
    update_via: "lead",
    rate: { requests: 10, window_ms: 2000 },
  });
  const big = planCost({ add: 0, update: 5000, delete: 0 }, {
    batchSize: 400,
    rate,
    updateVia: "lead",
  });
  assert.deepEqual(big.cheaper, { update_via: "add", requests: 13, estimated_ms: 2600 });
  assert.deepEqual(describeCost(big), [
    "requests: add 0, update 5000 (one per lead), delete 0: about 17 min at 10 per 2 s",
    "updating one lead per request takes about 17 min; --update-via add re-adds them in 13 requests (about 3 s; see README, Updates)",
  ]);
  const viaAdd = planCost({ add: 0, update: 5000, delete: 0 }, {
    batchSize: 400,
    rate,
    updateVia: "add",
  });
  assert.deepEqual([viaAdd.requests.update, viaAdd.cheaper], [13, undefined]);
});
