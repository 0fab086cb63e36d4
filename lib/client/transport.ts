/**
 * What the client needs around a single `fetch`: which base URLs may carry the key, reading
 * an answer without buffering an endless body, refusing redirects, naming why a request
 * failed (and where), and sleeps that end when the run is asked to stop.
 */
import { InterruptedError, type SyncError, UnavailableError, UsageError } from "../errors.ts";
import { escapeControl } from "../escape.ts";
import { clip, withoutCredentials } from "../redact.ts";

/** The most of an answer the client reads: Smartlead's JSON answers are far smaller. */
export const DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024;

/** `localhost`, 127.0.0.0/8 and `[::1]`: traffic that never leaves the machine. */
export function isLoopback(hostname: string): boolean {
  const h = hostname.toLowerCase();
  return h === "localhost" || h === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) ||
    /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(h);
}

/**
 * Checks that a base URL is http(s), and that it is https unless it is loopback or the user
 * opted in: the key rides in the query string of every request.
 */
export function checkBaseUrl(baseUrl: string, allowInsecureHttp = false): URL {
  const shown = JSON.stringify(withoutCredentials(baseUrl));
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    throw new UsageError(
      `base URL ${shown}: not an http(s) URL`,
      "e.g. https://server.smartlead.ai/api/v1",
    );
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") {
    throw new UsageError(
      `base URL ${shown}: not an http(s) URL`,
      "e.g. https://server.smartlead.ai/api/v1",
    );
  }
  if (u.protocol === "http:" && !isLoopback(u.hostname) && !allowInsecureHttp) {
    throw new UsageError(
      `base URL ${shown}: plain http:// would send the API key unencrypted to ${u.host}`,
      "use https://, or, if this network is trusted, opt in with --allow-insecure-http " +
        '(env SMARTLEAD_ALLOW_INSECURE_HTTP=1, config "allow_insecure_http": true)',
    );
  }
  return u;
}

/** An answer over the size cap. */
export class BodyTooLarge extends Error {
  constructor(readonly bytes: number) {
    super(`answer over the size cap (${bytes} bytes read)`);
  }
}

/**
 * The body as text (UTF-8, like `Response.text()`), reading at most `max` bytes: a larger
 * declared length or stream is cancelled and throws `BodyTooLarge`.
 */
export async function readCapped(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get("content-length") ?? NaN);
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel().catch(() => {});
    throw new BodyTooLarge(declared);
  }
  if (res.body === null) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      throw new BodyTooLarge(size);
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.byteLength;
  }
  return new TextDecoder().decode(all);
}

/** The error for an answer over the cap; retrying would read the same again. */
export function tooLarge(host: string, what: string, max: number): UnavailableError {
  return new UnavailableError(
    `the answer from ${host} to ${what} is larger than ${
      Math.round(max / 1024 / 1024)
    } MB: stopped reading it`,
    "check --base-url: Smartlead's answers are far smaller; rows not confirmed are sent again on the next run",
  );
}

/**
 * A 3xx answer. Never followed: the key is in the query string (it would go to the new
 * host), and a 307/308 would send the leads there, whose 200 would mark them synced.
 * Exit 5 like other answers that are not Smartlead's (a proxy, a captive portal), so a run
 * still reports what it did; not retried, as the same redirect would come back.
 */
export function redirectError(
  res: Response,
  requestUrl: string,
  what: string,
): UnavailableError {
  const location = res.headers.get("location");
  let target = "no location";
  if (location !== null) {
    try {
      const to = new URL(location, requestUrl);
      target = `${to.protocol}//${to.host}${to.pathname}`;
    } catch {
      target = "an unreadable location";
    }
  }
  return new UnavailableError(
    `Smartlead answered HTTP ${res.status} to ${what}, a redirect to ${
      escapeControl(clip(target, 200), true)
    }: not followed, the API key and the leads would go with it`,
    "check --base-url (Smartlead's API does not redirect: a proxy or captive portal may); " +
      "rows not confirmed are sent again on the next run",
  );
}

/** Whether `fetch` failed for lack of network permission (a binary built for other hosts). */
export function isPermissionDenied(e: unknown): boolean {
  return e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied;
}

/** The error for a host outside the network permission: exit 2 at once, never retried. */
export function permissionError(host: string, baseUrl: string): UsageError {
  return new UsageError(
    `no network permission for ${host}: this build of smartlead-sync may only reach the hosts it was built for`,
    `rebuild with: deno task compile --base-url ${withoutCredentials(baseUrl)} ` +
      `(from source: add ${host} to --allow-net)`,
  );
}

function causes(e: unknown): string[] {
  const out: string[] = [];
  for (let c: unknown = e, depth = 0; c !== undefined && c !== null && depth < 5; depth++) {
    out.push(c instanceof Error ? c.message : String(c));
    c = c instanceof Error ? c.cause : undefined;
  }
  return out;
}

/**
 * Why a request got no answer, naming the host: connection refused, DNS, TLS, reset, closed.
 * Deno's message carries the request URL, key included: it is cut out and redacted.
 */
export function describeFetchFailure(e: unknown, url: URL): string {
  const host = url.host;
  const texts = causes(e);
  const all = texts.join(" | ");
  const detail = escapeControl(
    clip(texts[texts.length - 1]!.replace(/^error sending request for url \([^)]*\):\s*/, ""), 200),
    true,
  );
  if (/connection refused/i.test(all)) return `connection refused by ${host}`;
  if (
    /dns error|failed to lookup address|name or service not known|nodename nor servname|no address associated|no such host|getaddrinfo/i
      .test(all)
  ) {
    return `DNS lookup of ${url.hostname} failed (${detail})`;
  }
  if (/certificate|tls|ssl|handshake|corrupt message|InvalidContentType/i.test(all)) {
    return `TLS connection to ${host} failed (${detail})`;
  }
  if (/connection reset/i.test(all)) return `connection to ${host} reset`;
  if (/timed out/i.test(all)) return `connection to ${host} timed out`;
  if (/closed|incomplete message|unexpected eof/i.test(all)) {
    return `connection to ${host} closed without an answer`;
  }
  return `request to ${host} failed (${detail})`;
}

export type Sleep = (ms: number) => Promise<void>;

/** The run was asked to stop while the client waited. */
export function interrupted(signal: AbortSignal): SyncError {
  const reason = signal.reason;
  return new InterruptedError(typeof reason === "string" ? reason : "SIGINT");
}

/**
 * `sleep`, ended early by `signal`: rejects with `InterruptedError` as soon as it aborts
 * (at once when it already has). Without a signal, `sleep` itself.
 */
export function abortableSleep(sleep: Sleep, signal: AbortSignal | undefined): Sleep {
  if (!signal) return sleep;
  return (ms) => {
    if (signal.aborted) return Promise.reject(interrupted(signal));
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(interrupted(signal));
      signal.addEventListener("abort", onAbort, { once: true });
      sleep(ms).then(
        () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        },
        (e) => {
          signal.removeEventListener("abort", onAbort);
          reject(e);
        },
      );
    });
  };
}

/** A `setTimeout` sleep that clears its timer when `signal` aborts (no timer left behind). */
export function timerSleep(signal: AbortSignal | undefined): Sleep {
  return (ms) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      }
      signal?.addEventListener("abort", done, { once: true });
    });
}
