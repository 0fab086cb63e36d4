/**
 * End-to-end: what the CLI does on a hostile or broken network (issue 7, sections 6 and 7):
 * redirects, cleartext base URLs, credentials in the base URL, hosts outside the network
 * permission, Retry-After waits and signals, endless answers, and failures that name their
 * cause and host.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { readAllFiles, runCli, summaryOf, withSandbox } from "./helpers.ts";
import type { Sandbox } from "../lib/sandbox/server.ts";

const CSV = "Email,First Name\nann@ex.com,Ann\nbob@ex.com,Bob\ncid@ex.com,Cid\n";

/** A server that records whatever reaches it and answers as if it were Smartlead. */
async function withRecorder(
  fn: (
    r: { origin: string; host: string; seen: Array<{ method: string; url: string }> },
  ) => Promise<void>,
): Promise<void> {
  const seen: Array<{ method: string; url: string }> = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seen.push({ method: req.method, url: req.url });
    await req.body?.cancel();
    return Response.json({ id: 1, ok: true, upload_count: 3, total_leads: 3 });
  });
  try {
    const host = `127.0.0.1:${server.addr.port}`;
    await fn({ origin: `http://${host}`, host, seen });
  } finally {
    await server.shutdown();
  }
}

/** A loopback port nothing listens on. */
function closedPort(): number {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  return port;
}

function indexFile(dir: string, sb: Sandbox): string {
  const u = new URL(sb.url);
  return `${dir}/state/smartlead-sync/${u.hostname}_${u.port}-campaign-1.db`;
}

function query<T>(path: string, sql: string): T[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return db.prepare(sql).all().map((row) => ({ ...row }) as T);
  } finally {
    db.close();
  }
}

Deno.test("a redirect to another host is never followed: nothing reaches it, nothing is marked synced", async (t) => {
  await t.step("307 on add leads: exit 5 naming the target, the leads stay pending", async () => {
    await withRecorder(async (rec) => {
      await withSandbox({}, async ({ sb, dir, env }) => {
        sb.addFault({
          method: "POST",
          pathPattern: "/leads",
          times: 1,
          fault: { kind: "redirect", status: 307, to: rec.origin },
        });
        const csv = `${dir}/leads.csv`;
        await Deno.writeTextFile(csv, CSV);
        const r = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
        assert.equal(r.code, 5, r.stderr);
        assert.equal(
          r.stderr,
          `error: Smartlead answered HTTP 307 to POST /campaigns/1/leads, a redirect to ${rec.origin}/api/v1/campaigns/1/leads: ` +
            "not followed, the API key and the leads would go with it — check --base-url " +
            "(Smartlead's API does not redirect: a proxy or captive portal may); " +
            "rows not confirmed are sent again on the next run\n",
        );
        assert.deepEqual(rec.seen, []);
        const s = summaryOf(r);
        assert.deepEqual([s.added, s.failed, s.exit_code], [0, 3, 5]);
        assert.deepEqual(sb.state.campaignLeads(1), []);
        assert.deepEqual(
          query<{ email: string; status: string }>(
            indexFile(dir, sb),
            "select email, status from leads order by email",
          ).map((l) => [l.email, l.status]),
          [["ann@ex.com", "pending"], ["bob@ex.com", "pending"], ["cid@ex.com", "pending"]],
        );
        for (const text of [r.stdout, r.stderr]) assert.ok(!text.includes(sb.apiKey));
      });
    });
  });

  await t.step(
    "301 and 302 on the campaign check: exit 5, nothing reaches the target",
    async () => {
      for (const status of [301, 302]) {
        await withRecorder(async (rec) => {
          await withSandbox({}, async ({ sb, env }) => {
            sb.addFault({
              method: "GET",
              pathPattern: "/campaigns/1",
              times: 1,
              fault: { kind: "redirect", status, to: rec.origin },
            });
            const r = await runCli(["check", "--campaign-id", "1"], { env });
            assert.equal(r.code, 5, r.stderr);
            assert.match(
              r.stderr,
              new RegExp(
                `^error: Smartlead answered HTTP ${status} to GET /campaigns/1, a redirect to http://${rec.host}/api/v1/campaigns/1: not followed`,
              ),
            );
            assert.ok(!r.stderr.includes(sb.apiKey));
            assert.deepEqual(rec.seen, []);
            assert.equal(sb.requests.length, 1); // not retried either
          });
        });
      }
    },
  );
});

Deno.test("plain http:// to a host other than loopback is refused before any request, unless opted in", async (t) => {
  const base = "http://smartlead-proxy.example:8080/api/v1";
  const refused =
    `error: base URL "${base}": plain http:// would send the API key unencrypted to smartlead-proxy.example:8080 — ` +
    "use https://, or, if this network is trusted, opt in with --allow-insecure-http " +
    '(env SMARTLEAD_ALLOW_INSECURE_HTTP=1, config "allow_insecure_http": true)\n';
  const env = { SMARTLEAD_API_KEY: "cleartext-key-77aa", SMARTLEAD_BASE_URL: base };

  await t.step("check and push exit 2", async () => {
    const dir = await Deno.makeTempDir();
    try {
      const csv = `${dir}/leads.csv`;
      await Deno.writeTextFile(csv, CSV);
      for (
        const args of [
          ["check", "--campaign-id", "1"],
          ["push", csv, "--campaign-id", "1", "--max-attempts", "1", "--state", dir],
        ]
      ) {
        const r = await runCli(args, { env });
        assert.equal(r.code, 2, r.stderr);
        assert.equal(r.stderr, refused);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  // Opted in, the request is attempted: here Deno's network permission (which does not
  // include that host) is what stops it, with its own message.
  const optIns: Array<[string, string[], Record<string, string>]> = [
    ["the flag", ["--allow-insecure-http"], {}],
    ["the environment", [], { SMARTLEAD_ALLOW_INSECURE_HTTP: "1" }],
  ];
  for (const [how, flags, extra] of optIns) {
    await t.step(`opting in through ${how} lets the request go`, async () => {
      const r = await runCli(["check", "--campaign-id", "1", ...flags], {
        env: { ...env, ...extra },
      });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /^error: no network permission for smartlead-proxy\.example:8080/);
    });
  }
  await t.step("opting in through the config file", async () => {
    const dir = await Deno.makeTempDir();
    try {
      const config = `${dir}/smartlead-sync.json`;
      await Deno.writeTextFile(config, JSON.stringify({ allow_insecure_http: true }));
      const r = await runCli(["check", "--campaign-id", "1", "--config", config], { env });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /^error: no network permission for smartlead-proxy\.example:8080/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
  await t.step("a value that is not yes or no is a usage error", async () => {
    const r = await runCli(["check", "--campaign-id", "1"], {
      env: { ...env, SMARTLEAD_ALLOW_INSECURE_HTTP: "maybe" },
    });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(
      r.stderr,
      'error: SMARTLEAD_ALLOW_INSECURE_HTTP="maybe": expected 1 or 0 — or unset it\n',
    );
  });
});

Deno.test("credentials in the base URL are never printed or stored; the index path does not change", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    const password = "pr0xy-pa55word-zz";
    const withCreds = sb.url.replace("http://", `http://proxyuser:${password}@`);
    const credsEnv = { ...env, SMARTLEAD_BASE_URL: withCreds };
    const check = await runCli(["--debug", "check", "--campaign-id", "1", "--json"], {
      env: credsEnv,
    });
    assert.equal(check.code, 0, check.stderr);
    assert.equal(JSON.parse(check.stdout).base_url, sb.url);
    assert.match(check.stderr, new RegExp(`→ GET ${sb.url}/campaigns/1\\?api_key=\\*\\*\\*`));

    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, CSV);
    const push = await runCli(["--debug", "push", csv, "--campaign-id", "1", "--json"], {
      env: credsEnv,
    });
    assert.equal(push.code, 0, push.stderr);
    assert.equal(summaryOf(push).added, 3);
    const state = await runCli(["state", "--campaign-id", "1", "--json"], { env: credsEnv });
    assert.equal(state.code, 0, state.stderr);
    const info = JSON.parse(state.stdout);
    assert.equal(info.base_url, sb.url);
    assert.equal(info.index, indexFile(dir, sb)); // the same file as without credentials
    assert.deepEqual(
      query<{ value: string }>(indexFile(dir, sb), "select value from meta where key = 'base_url'"),
      [{ value: sb.url }],
    );
    for (const text of [check.stdout, check.stderr, push.stdout, push.stderr, state.stdout]) {
      assert.ok(!text.includes(password), text);
      assert.ok(!text.includes("proxyuser"), text);
    }
    for (const f of await readAllFiles(`${dir}/state`)) {
      assert.ok(!f.text.includes(password), f.path);
    }
  });
});

Deno.test("a host outside the network permission is exit 2 at once, naming it and the rebuild command", async () => {
  const port = closedPort();
  const base = `http://127.0.0.2:${port}/api/v1`;
  const env = { SMARTLEAD_API_KEY: "perm-key-19bc", SMARTLEAD_BASE_URL: base };
  const expected =
    `error: no network permission for 127.0.0.2:${port}: this build of smartlead-sync ` +
    "may only reach the hosts it was built for — rebuild with: deno task compile --base-url " +
    `${base} (from source: add 127.0.0.2:${port} to --allow-net)\n`;
  const dir = await Deno.makeTempDir();
  try {
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, CSV);
    for (
      const args of [
        ["check", "--campaign-id", "1"],
        ["push", csv, "--campaign-id", "1", "--max-attempts", "2", "--state", dir],
      ]
    ) {
      const r = await runCli(args, { env });
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr, expected);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SIGINT during a 600 s Retry-After wait stops the run at once: exit 130 with the summary", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    sb.addFault({
      method: "POST",
      pathPattern: "/leads",
      times: 1,
      fault: { kind: "rate_limit", retryAfter: 600 },
    });
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, CSV);
    const r = await runCli(["push", csv, "--campaign-id", "1", "--json"], {
      env,
      kill: { when: () => sb.requests.some((q) => q.status === 429), signal: "SIGINT" },
    });
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /SIGINT: finishing the batches in flight, then stopping/);
    assert.match(
      r.stderr,
      /^error: stopped by SIGINT: the batches in flight finished and are recorded — run the same command again/m,
    );
    const s = summaryOf(r);
    assert.deepEqual([s.added, s.failed, s.exit_code], [0, 3, 130]);
    assert.deepEqual(sb.requests.map((q) => [q.method, q.status]), [["GET", 200], ["POST", 429]]);
    assert.deepEqual(sb.state.campaignLeads(1), []);

    const again = await runCli(["push", csv, "--campaign-id", "1", "--json"], { env });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(summaryOf(again).added, 3);
  });
});

Deno.test("an endless answer is not buffered: exit 5 naming the host, after reading at most the cap", async () => {
  await withSandbox({}, async ({ sb, dir, env }) => {
    sb.addFault({
      method: "POST",
      pathPattern: "/leads",
      times: 1,
      fault: { kind: "endless_body" },
    });
    const csv = `${dir}/leads.csv`;
    await Deno.writeTextFile(csv, CSV);
    const r = await runCli(
      ["push", csv, "--campaign-id", "1", "--json", "--max-attempts", "1", "--timeout", "60"],
      { env },
    );
    assert.equal(r.code, 5, r.stderr);
    const host = new URL(sb.url).host;
    assert.match(
      r.stderr,
      new RegExp(
        `^error: the answer from ${host} to POST /campaigns/1/leads is larger than 8 MB: stopped reading it — check --base-url`,
      ),
    );
    const s = summaryOf(r);
    assert.deepEqual([s.added, s.failed], [0, 3]);
  });
});

Deno.test("network failures name their cause and host, never the key", async (t) => {
  await t.step("connection refused", async () => {
    const port = closedPort();
    const key = "refused-key-3c4d5e";
    const r = await runCli(["check", "--campaign-id", "1"], {
      env: { SMARTLEAD_API_KEY: key, SMARTLEAD_BASE_URL: `http://127.0.0.1:${port}/api/v1` },
    });
    assert.equal(r.code, 5, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `^error: Smartlead is unavailable: GET /campaigns/1 failed 3 times \\(last: network error: connection refused by 127\\.0\\.0\\.1:${port}\\)`,
      ),
    );
    assert.ok(!r.stderr.includes(key));
  });

  await t.step("TLS: an https:// base URL to a plain-HTTP server", async () => {
    await withSandbox({}, async ({ sb, env }) => {
      const r = await runCli(["check", "--campaign-id", "1"], {
        env: { ...env, SMARTLEAD_BASE_URL: sb.url.replace("http://", "https://") },
      });
      assert.equal(r.code, 5, r.stderr);
      const host = new URL(sb.url).host.replace(/\./g, "\\.");
      assert.match(
        r.stderr,
        new RegExp(`\\(last: network error: TLS connection to ${host} failed \\(`),
      );
      assert.ok(!r.stderr.includes(sb.apiKey));
    });
  });
});
