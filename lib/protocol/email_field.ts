/**
 * The dedup key of a protocol stream: the normalised email, read from the configured
 * `email_field`, else from the stream's key when it is one email field, else from the field
 * the automatic mapping finds (email, work_email, ...). A stream with a chosen field has its
 * records rewritten so that push's one `email=` mapping reads that field for every stream.
 */
import { planColumns } from "../mapping.ts";

/**
 * The key records with a chosen email field carry it under; push maps it to `email`. Its
 * normalised form ("smartleadsyncemail") matches no real column.
 */
export const EMAIL_KEY = "_smartlead_sync_email";

/** The mapping push gets, whatever the streams. */
export const EMAIL_MAP = [{ target: "email", column: EMAIL_KEY }] as const;

/** The field chosen for a stream, and why (for the log); see `describeEmailField`. */
export interface EmailField {
  field: string | undefined;
  why: string;
}

/**
 * Chooses a stream's email field. `key`: the stream's key fields (Airbyte's primary key
 * paths, Singer's key_properties); `schema`: its JSON Schema, when known.
 */
export function chooseEmailField(
  configured: string | undefined,
  key: ReadonlyArray<string | readonly string[]> | undefined,
  schema: unknown,
): EmailField {
  if (configured !== undefined) return { field: configured, why: "email_field" };
  if (key && key.length === 1) {
    const k = key[0]!;
    const name = typeof k === "string" ? k : k.length === 1 ? k[0]! : undefined;
    if (name !== undefined && looksLikeEmail(name, schema)) {
      return { field: name, why: "the stream's key" };
    }
    if (name !== undefined) {
      return {
        field: undefined,
        why:
          `the field named like an email (the key "${name}" is not one; set email_field to choose)`,
      };
    }
  }
  return { field: undefined, why: "the field named like an email" };
}

/** A field named like an email, or declared `format: email` in the stream's schema. */
function looksLikeEmail(name: string, schema: unknown): boolean {
  if (planColumns([name], [], false).emailColumn === 0) return true;
  const props = (schema as { properties?: Record<string, { format?: unknown }> } | undefined)
    ?.properties;
  return props?.[name]?.format === "email";
}

/**
 * The record as push reads it: unchanged without a chosen field; else the chosen field's
 * value under `EMAIL_KEY` (null when absent, so such a record is rejected rather than keyed
 * by another column) and the other fields as they are.
 */
export function recordForPush(data: unknown, field: string | undefined): unknown {
  if (field === undefined || data === null || typeof data !== "object" || Array.isArray(data)) {
    return data;
  }
  const entries = Object.entries(data as Record<string, unknown>).filter(([k]) => k !== field);
  const value = Object.hasOwn(data, field) ? (data as Record<string, unknown>)[field] : null;
  return Object.fromEntries([[EMAIL_KEY, value ?? null], ...entries]);
}

/** `"work_email" (email_field)`, or how the automatic choice works. */
export function describeEmailField(e: EmailField): string {
  return e.field === undefined ? e.why : `"${e.field}" (${e.why})`;
}
