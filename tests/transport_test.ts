/**
 * The pieces around one fetch: which base URLs may carry the key, and how a failed request
 * is named. (Redirects, size caps and stop signals are tested through the client and end to
 * end.)
 */
import assert from "node:assert/strict";
import { checkBaseUrl, describeFetchFailure, isLoopback } from "../lib/client/transport.ts";
import { UsageError } from "../lib/errors.ts";

Deno.test("isLoopback: localhost, 127/8, ::1 and its IPv4-mapped form, nothing else", () => {
  for (
    const h of ["localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "[::1]", "[::ffff:7f00:1]"]
  ) {
    assert.equal(isLoopback(h), true, h);
  }
  for (const h of ["128.0.0.1", "127.0.0.1.nip.io", "localhost.example", "10.0.0.1", "[::2]"]) {
    assert.equal(isLoopback(h), false, h);
  }
});

Deno.test("checkBaseUrl: https anywhere, http only on loopback unless opted in", () => {
  for (
    const ok of [
      "https://server.smartlead.ai/api/v1",
      "http://127.0.0.1:8080/api/v1",
      "http://localhost/api/v1",
      "http://[::1]:9/api/v1",
    ]
  ) {
    assert.equal(checkBaseUrl(ok).href, new URL(ok).href);
  }
  assert.throws(
    () => checkBaseUrl("http://user:hunter22@proxy.example/api/v1"),
    (e) => {
      assert.ok(e instanceof UsageError);
      assert.equal(e.exitCode, 2);
      assert.equal(
        e.message,
        'base URL "http://proxy.example/api/v1": plain http:// would send the API key unencrypted to proxy.example',
      );
      return true;
    },
  );
  assert.equal(checkBaseUrl("http://proxy.example/api/v1", true).host, "proxy.example");
  for (const bad of ["ftp://server.smartlead.ai/", "server.smartlead.ai/api/v1"]) {
    assert.throws(() => checkBaseUrl(bad, true), (e) => e instanceof UsageError);
  }
});

Deno.test("describeFetchFailure names the cause and the host, and cuts the URL with the key out", () => {
  const url = new URL("https://no-such-host.invalid:8443/api/v1");
  const deno = (cause: string) =>
    new TypeError("fetch failed", {
      cause: new Error(
        `error sending request for url (https://no-such-host.invalid:8443/api/v1/campaigns/1?api_key=sk-live-9): ${cause}`,
      ),
    });
  assert.equal(
    describeFetchFailure(
      deno(
        "client error (Connect): dns error: failed to lookup address information: Name or service not known",
      ),
      url,
    ),
    "DNS lookup of no-such-host.invalid failed (client error (Connect): dns error: failed to lookup address information: Name or service not known)",
  );
  assert.equal(
    describeFetchFailure(
      deno("client error (Connect): tcp connect error: Connection refused (os error 111)"),
      url,
    ),
    "connection refused by no-such-host.invalid:8443",
  );
  assert.equal(
    describeFetchFailure(
      deno("client error (Connect): invalid peer certificate: UnknownIssuer"),
      url,
    ),
    "TLS connection to no-such-host.invalid:8443 failed (client error (Connect): invalid peer certificate: UnknownIssuer)",
  );
  assert.equal(
    describeFetchFailure(deno("client error (SendRequest): connection reset by peer"), url),
    "connection to no-such-host.invalid:8443 reset",
  );
  assert.equal(
    describeFetchFailure(
      deno("client error (SendRequest): connection closed before message completed"),
      url,
    ),
    "connection to no-such-host.invalid:8443 closed without an answer",
  );
  const other = describeFetchFailure(new TypeError("weird ?api_key=sk-live-9 thing"), url);
  assert.equal(other, "request to no-such-host.invalid:8443 failed (weird ?api_key=*** thing)");
});
