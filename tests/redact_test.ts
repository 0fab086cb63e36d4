import assert from "node:assert/strict";
import { clip, redact, registerSecret, withoutCredentials } from "../lib/redact.ts";

Deno.test("redact", async (t) => {
  await t.step("api_key query values, any case, any key", () => {
    assert.equal(
      redact("GET https://h/api/v1/campaigns/1?api_key=abc123&x=1 failed"),
      "GET https://h/api/v1/campaigns/1?api_key=***&x=1 failed",
    );
    assert.equal(redact("url: /x?API_KEY=zzz"), "url: /x?API_KEY=***");
    assert.equal(redact('{"url":"/x?api_key=q9"}'), '{"url":"/x?api_key=***"}');
    assert.equal(redact("nothing secret here"), "nothing secret here");
  });

  await t.step("a registered secret, everywhere, also URL-encoded and JSON-escaped", () => {
    registerSecret('sk_live/9f+3a"z\\');
    assert.equal(redact('key sk_live/9f+3a"z\\ twice sk_live/9f+3a"z\\'), "key *** twice ***");
    assert.equal(redact("enc sk_live%2F9f%2B3a%22z%5C end"), "enc *** end");
    assert.equal(redact(JSON.stringify({ k: 'sk_live/9f+3a"z\\' })), '{"k":"***"}');
  });

  await t.step("short or missing secrets are not registered", () => {
    registerSecret("abc");
    registerSecret(undefined);
    registerSecret("");
    assert.equal(redact("abc abcd"), "abc abcd");
  });
});

Deno.test("clip redacts before it shortens, so no prefix of a secret survives", () => {
  registerSecret("clip-secret-4242");
  const text = "a".repeat(10) + "clip-secret-4242" + "b".repeat(10);
  assert.equal(clip(text, 14), "aaaaaaaaaa***b…");
  assert.equal(clip("short", 14), "short");
  // Cutting first would have left "clip" at the end.
  assert.equal(redact(text.slice(0, 14)), "aaaaaaaaaaclip");
});

Deno.test("withoutCredentials drops user:password@ and registers the password", () => {
  assert.equal(
    withoutCredentials("https://proxyuser:pa%2Fss-9911@proxy.example:8443/api/v1"),
    "https://proxy.example:8443/api/v1",
  );
  assert.equal(redact("x pa/ss-9911 y pa%2Fss-9911"), "x *** y ***");
  // Anything else is returned exactly as given.
  for (const u of ["https://server.smartlead.ai/api/v1/", "HTTP://Host:80/x", "not a url"]) {
    assert.equal(withoutCredentials(u), u);
  }
});
