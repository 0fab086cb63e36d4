/**
 * The Airbyte image cannot be built here; its Dockerfile is checked for what Airbyte needs:
 * a glibc base, AIRBYTE_ENTRYPOINT equal to the ENTRYPOINT, a non-root user, the labels.
 */
import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url).pathname;

Deno.test("Dockerfile: glibc base, AIRBYTE_ENTRYPOINT = ENTRYPOINT, non-root airbyte user, io.airbyte labels", async () => {
  const text = await Deno.readTextFile(`${ROOT}Dockerfile`);
  const lines = text.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
  const from = lines.filter((l) => l.startsWith("FROM "));
  assert.deepEqual(from, ["FROM debian:bookworm-slim"]);
  const entry = JSON.parse(lines.find((l) => l.startsWith("ENTRYPOINT "))!.slice(11));
  assert.deepEqual(entry, ["/usr/local/bin/smartlead-sync", "airbyte"]);
  const env = /^ENV AIRBYTE_ENTRYPOINT="(.*)"$/.exec(
    lines.find((l) => l.includes("AIRBYTE_ENTRYPOINT"))!,
  );
  assert.equal(env?.[1], entry.join(" "));
  assert.equal(lines.filter((l) => l.startsWith("USER ")).at(-1), "USER airbyte");
  assert.match(text, /useradd [^\n]*airbyte/);
  assert.match(text, /chown airbyte:airbyte \/airbyte/);
  assert.ok(lines.includes("LABEL io.airbyte.name=smartlead-sync/destination-smartlead"));
  assert.ok(lines.includes("LABEL io.airbyte.version=${VERSION}"));
  // The binary the compile task writes for the default target.
  assert.ok(lines.includes("ARG BINARY=dist/smartlead-sync-x86_64-unknown-linux-gnu"));
});
