/**
 * Escaping of text that reaches a terminal or the rejects file: a CSV header, a server's
 * message or a `--debug` body may hold escape sequences (retitle, clear, move the cursor),
 * C1 controls that some terminals read as escapes, or bidirectional overrides that make a
 * line read differently from what it says. Each such character becomes its `\uXXXX` form.
 *
 * On JSON text (as `JSON.stringify` writes it) this is lossless: those characters can only
 * occur inside strings there, and `\uXXXX` is the same string once parsed.
 */

/**
 * C0 controls but tab and newline, DEL, C1 controls, the bidi marks, embeddings, overrides and
 * isolates, and the Unicode line and paragraph separators.
 */
const UNSAFE =
  // deno-lint-ignore no-control-regex
  /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** The same, newline and tab included: for text that must stay on one line. */
const UNSAFE_ONE_LINE =
  // deno-lint-ignore no-control-regex
  /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const hex = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;

/**
 * Replaces control and bidi characters with `\uXXXX`. Newlines and tabs are kept unless
 * `oneLine` (a server message or a header quoted inside a line of our own).
 */
export function escapeControl(text: string, oneLine = false): string {
  return text.replace(oneLine ? UNSAFE_ONE_LINE : UNSAFE, hex);
}
