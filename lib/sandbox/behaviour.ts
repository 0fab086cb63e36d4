/**
 * How the sandbox answers where Smartlead's real answers vary (docs/shared notes, graded by
 * evidence): the add-leads answer's shape across API generations, whether it returns the id
 * map, what an update says when it applies nothing, what a stale lead id answers, and the
 * custom-field cap. Set at start (`SandboxOptions.behaviour`, `sandbox` flags) or at run time
 * (`POST /__sandbox/behaviour`).
 */
import type { AddCounters } from "./state.ts";

/**
 * The add-leads answer: `live` (the captured shape), `strings` (every counter a numeric
 * string), `old-docs` (strings, `unsubscribed_leads` a number, no `invalid_emails` list),
 * `sparse` (only `ok`, `upload_count`, `total_leads`), `empty` (`{}`), `ok` (`{"ok":true}`).
 */
export const ADD_ANSWERS = ["live", "strings", "old-docs", "sparse", "empty", "ok"] as const;
export type AddAnswerShape = typeof ADD_ANSWERS[number];

/**
 * What an update or delete of a lead id that is not in the campaign answers: `404`
 * `{"error":"Lead not found"}`, `404-bare` `{"ok":false,"error":"Invalid request!"}` (the
 * documented 404, which does not say why), `500` `{"error":"Invalid lead id"}`.
 */
export const STALE_ID_ANSWERS = ["404", "404-bare", "500"] as const;
export type StaleIdAnswer = typeof STALE_ID_ANSWERS[number];

export interface Behaviour {
  addAnswer: AddAnswerShape;
  /** Honour `return_lead_ids` (false: never send `emailToLeadIdMap`). */
  idMap: boolean;
  /** `ok-false`: updates answer `200 {"ok":false}` and apply nothing. */
  updateAnswer: "ok" | "ok-false";
  staleId: StaleIdAnswer;
  /** Custom fields per lead before the validator's 400 (the docs say 20 or 200). */
  maxCustomFields: number;
}

export const DEFAULT_BEHAVIOUR: Behaviour = {
  addAnswer: "live",
  idMap: true,
  updateAnswer: "ok",
  staleId: "404",
  maxCustomFields: 200,
};

/** Checks a behaviour change that arrived as JSON; returns an error message or the change. */
export function parseBehaviour(value: unknown): Partial<Behaviour> | string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return "behaviour must be an object";
  }
  const v = value as Record<string, unknown>;
  const out: Partial<Behaviour> = {};
  for (const key of Object.keys(v)) {
    const x = v[key];
    if (key === "addAnswer" && ADD_ANSWERS.includes(x as AddAnswerShape)) {
      out.addAnswer = x as AddAnswerShape;
    } else if (key === "idMap" && typeof x === "boolean") out.idMap = x;
    else if (key === "updateAnswer" && (x === "ok" || x === "ok-false")) out.updateAnswer = x;
    else if (key === "staleId" && STALE_ID_ANSWERS.includes(x as StaleIdAnswer)) {
      out.staleId = x as StaleIdAnswer;
    } else if (key === "maxCustomFields" && Number.isInteger(x) && (x as number) >= 0) {
      out.maxCustomFields = x as number;
    } else {
      return `behaviour.${key}: expected addAnswer (${ADD_ANSWERS.join("|")}), idMap (boolean), ` +
        `updateAnswer (ok|ok-false), staleId (${STALE_ID_ANSWERS.join("|")}), maxCustomFields (n)`;
    }
  }
  return out;
}

/** The add-leads answer in the configured shape. */
export function shapeAddAnswer(answer: AddCounters, b: Behaviour): Record<string, unknown> {
  const out: Record<string, unknown> = { ...answer };
  if (!b.idMap) delete out.emailToLeadIdMap;
  const strings = () => {
    for (const [k, v] of Object.entries(out)) if (typeof v === "number") out[k] = String(v);
  };
  switch (b.addAnswer) {
    case "live":
      return out;
    case "strings":
      strings();
      return out;
    case "old-docs":
      strings();
      out.unsubscribed_leads = answer.unsubscribed_leads.length;
      delete out.invalid_emails;
      return out;
    case "sparse": {
      const sparse: Record<string, unknown> = {
        ok: true,
        upload_count: answer.upload_count,
        total_leads: answer.total_leads,
      };
      if (out.emailToLeadIdMap) sparse.emailToLeadIdMap = out.emailToLeadIdMap;
      return sparse;
    }
    case "empty":
      return {};
    case "ok":
      return { ok: true };
  }
}

/** The answer to a write on a lead id that is not in the campaign. */
export function staleIdAnswer(b: Behaviour): { status: number; body: unknown } {
  switch (b.staleId) {
    case "404":
      return { status: 404, body: { error: "Lead not found" } };
    case "404-bare":
      return { status: 404, body: { ok: false, error: "Invalid request!" } };
    case "500":
      return { status: 500, body: { error: "Invalid lead id" } };
  }
}
