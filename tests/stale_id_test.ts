/** Unit tests of the one place that recognises a stale lead id in Smartlead's answers. */
import assert from "node:assert/strict";
import { isStaleLeadIdAnswer } from "../lib/client/answers.ts";
import { isStaleLeadIdError, SmartleadRequestError } from "../lib/client/smartlead.ts";

Deno.test("a 404, or a body saying 'Invalid lead id', is a stale id; other failures are not", () => {
  assert.equal(isStaleLeadIdAnswer(404, null), true);
  assert.equal(isStaleLeadIdAnswer(404, { ok: false, error: "Invalid request!" }), true);
  assert.equal(isStaleLeadIdAnswer(500, { error: "Invalid lead id" }), true);
  assert.equal(isStaleLeadIdAnswer(500, { message: "invalid lead_id" }), true);
  assert.equal(isStaleLeadIdAnswer(200, { ok: false, error: "Invalid Lead ID" }), true);
  assert.equal(isStaleLeadIdAnswer(500, { error: "Internal Server Error" }), false);
  assert.equal(isStaleLeadIdAnswer(500, "Invalid lead id"), false); // not Smartlead's JSON
  assert.equal(isStaleLeadIdAnswer(400, { message: '"lead_list[0].x" is not allowed' }), false);
  assert.equal(isStaleLeadIdAnswer(503, null), false);
  const e = (status: number, body: string) => new SmartleadRequestError(status, body, "x");
  assert.equal(isStaleLeadIdError(e(500, '{"error":"Invalid lead id"}')), true);
  assert.equal(isStaleLeadIdError(e(404, "not json")), true);
  assert.equal(isStaleLeadIdError(e(422, "{}")), false);
  assert.equal(isStaleLeadIdError(new Error("Invalid lead id")), false);
});
