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

/**
 * Redacts, then shortens to `max` characters. In this order: cutting first could leave a
 * prefix of the key that no longer matches it.
 */
export function clip(text: string, max: number): string {
  const safe = redact(text);
  return safe.length > max ? `${safe.slice(0, max)}…` : safe;
}

/**
 * A URL without its `user:password@` part, for printing and for the index. Other URLs are
 * returned exactly as given. The password is also registered as a secret.
 */
export function withoutCredentials(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url;
  }
  if (u.username === "" && u.password === "") return url;
  registerSecret(u.password);
  try {
    registerSecret(decodeURIComponent(u.password));
  } catch {
    // not valid percent-encoding: the raw form is registered
  }
  u.username = "";
  u.password = "";
  return u.href;
}
