/**
 * Email addresses: the pattern leads must match, normalisation (trim, lower case, and an
 * international domain in its ASCII "punycode" form, so that `user@müller.de` and
 * `user@xn--mller-kva.de` are one lead), and, for a rejected address, what is wrong with it
 * in words, with invisible characters made visible.
 */

/**
 * zod's email pattern, with one change: the top-level domain may also be an IDNA one
 * (`xn--p1ai`, `.рф` in ASCII). The zod lead schema and the hot-path check both use it.
 */
export const EMAIL_RE =
  /^(?:[A-Za-z0-9_'+\-]+\.)*[A-Za-z0-9_'+\-]*[A-Za-z0-9_+-]@(?:[A-Za-z0-9][A-Za-z0-9\-]*\.)+(?:[A-Za-z]{2,}|xn--[A-Za-z0-9\-]+)$/;

// deno-lint-ignore no-control-regex
const NON_ASCII = /[^\x00-\x7f]/;
/** Characters that render as nothing (or reorder text): shown as `\uXXXX` in reasons. */
const INVISIBLE =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u001f\u007f-\u009f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]/g;
/** Characters not allowed in a domain name given to the URL parser (it would cut there). */
const NOT_A_HOST = /[\s/?#:@\\[\]%]/;

/**
 * The domain of `email` in IDNA ASCII form when it has non-ASCII characters (`müller.de` →
 * `xn--mller-kva.de`, full-width dots mapped); the email unchanged otherwise, or when the
 * domain is not a valid international domain name.
 */
export function asciiEmail(email: string): string {
  const at = email.lastIndexOf("@");
  if (at < 0) return email;
  const domain = email.slice(at + 1);
  if (!NON_ASCII.test(domain) || NOT_A_HOST.test(domain) || domain === "") return email;
  try {
    return email.slice(0, at + 1) + new URL(`http://${domain}`).hostname;
  } catch {
    return email;
  }
}

/** Trim, lower case, IDNA ASCII domain: the form sent to Smartlead and the dedup key. */
export function normalizeEmail(email: string): string {
  const e = email.trim().toLowerCase();
  return NON_ASCII.test(e) ? asciiEmail(e) : e;
}

/** `s` as a JSON string with invisible and bidi characters written as `\uXXXX`. */
export function visible(s: string): string {
  return JSON.stringify(s).replace(
    INVISIBLE,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

function codes(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/**
 * What is wrong with an address that `EMAIL_RE` refuses, in a few words (only called for
 * rejected rows). `email` is the normalised form.
 */
export function explainEmail(email: string): string {
  INVISIBLE.lastIndex = 0;
  const hidden = INVISIBLE.exec(email);
  if (hidden) {
    return `contains an invisible character (${codes(hidden[0])}) at position ${
      hidden.index + 1
    }; retype the address`;
  }
  if (/\s/.test(email)) return "contains a space";
  const at = email.indexOf("@");
  if (at < 0) return "no @";
  if (email.indexOf("@", at + 1) >= 0) return "more than one @";
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  if (local === "") return "nothing before the @";
  if (domain === "") return "nothing after the @";
  if (email.length > 320) return "longer than 320 characters";
  const nonAscii = NON_ASCII.exec(local);
  if (nonAscii) {
    return `non-ASCII character "${
      nonAscii[0]
    }" before the @ (only the domain may be international)`;
  }
  const badLocal = /[^a-z0-9_'+\-.]/i.exec(local);
  if (badLocal) return `character ${JSON.stringify(badLocal[0])} is not allowed before the @`;
  if (local.startsWith(".") || local.includes("..")) {
    return "the part before the @ starts with a dot or has two dots in a row";
  }
  if (/[.']$/.test(local)) return `the part before the @ ends with "${local.at(-1)}"`;
  if (NON_ASCII.test(domain)) {
    return `the domain "${domain}" is not a valid international domain name`;
  }
  if (!domain.includes(".")) return `the domain "${domain}" has no dot (e.g. example.com)`;
  const badDomain = /[^a-z0-9\-.]/i.exec(domain);
  if (badDomain) {
    return `character ${JSON.stringify(badDomain[0])} is not allowed in the domain`;
  }
  const labels = domain.split(".");
  if (labels.some((l) => l === "")) {
    return `the domain "${domain}" has an empty part (two dots, or a dot at an end)`;
  }
  if (labels.some((l) => l.startsWith("-"))) {
    return `a part of the domain "${domain}" starts with "-"`;
  }
  return `the domain "${domain}" does not end in a valid top-level domain`;
}
