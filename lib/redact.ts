/**
 * Removal of the API key from anything that may be printed or written. The client redacts
 * at the one place URLs are built; this is the second line of defence used on every
 * message that leaves the process.
 */

const secrets = new Set<string>();

/** Registers a secret (the API key) so that `redact` hides it everywhere. */
export function registerSecret(secret: string | undefined): void {
  if (secret && secret.length >= 4) secrets.add(secret);
}

/** Replaces every registered secret and every `api_key=` query value with `***`. */
export function redact(text: string): string {
  let out = text.replace(/(api_key=)[^&\s"']*/gi, "$1***");
  for (const s of secrets) {
    if (out.includes(s)) out = out.split(s).join("***");
    const enc = encodeURIComponent(s);
    if (enc !== s && out.includes(enc)) out = out.split(enc).join("***");
  }
  return out;
}
