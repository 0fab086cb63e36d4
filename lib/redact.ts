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
    // The forms a key takes in a URL and inside a JSON string.
    for (const form of [encodeURIComponent(s), JSON.stringify(s).slice(1, -1)]) {
      if (form !== s && out.includes(form)) out = out.split(form).join("***");
    }
  }
  return out;
}
