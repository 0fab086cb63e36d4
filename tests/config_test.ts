import assert from "node:assert/strict";
import { ConfigSchema, loadConfig, stripJsonComments } from "../lib/config.ts";
import { UsageError } from "../lib/errors.ts";

async function configFile(text: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "config-test-" });
  await Deno.writeTextFile(`${dir}/smartlead-sync.json`, text);
  return `${dir}/smartlead-sync.json`;
}

async function configError(text: string, message: (path: string) => string, hint?: string) {
  const path = await configFile(text);
  await assert.rejects(loadConfig(path), (e: unknown) => {
    assert.ok(e instanceof UsageError);
    assert.equal(e.exitCode, 2);
    assert.equal(e.message, message(path));
    if (hint !== undefined) assert.equal(e.hint, hint);
    return true;
  });
}

Deno.test("loadConfig", async (t) => {
  await t.step("a full file with // comments, URLs in strings kept", async () => {
    const path = await configFile(`{
  // where leads go
  "campaign_id": 123, // trailing comment
  "base_url": "https://server.smartlead.ai/api/v1", // the // in the URL stays
  "tags": ["a", "b"],
  "map": { "email": "E-Mail // work" },
  "batch_size": 400,
  "rate": "10/2",
  "mode": "full-refresh",
  "settings": { "ignore_global_block_list": true }
}
`);
    assert.deepEqual(await loadConfig(path), {
      path,
      config: {
        campaign_id: 123,
        base_url: "https://server.smartlead.ai/api/v1",
        tags: ["a", "b"],
        map: { email: "E-Mail // work" },
        batch_size: 400,
        rate: "10/2",
        mode: "full-refresh",
        settings: { ignore_global_block_list: true },
      },
    });
  });

  await t.step("unknown key → error naming it", async () => {
    const keys = Object.keys(ConfigSchema.shape).filter((k) => k !== "$schema");
    assert.deepEqual(keys.slice(0, 6), [
      "campaign_id",
      "api_key",
      "base_url",
      "tags",
      "map",
      "batch_size",
    ]);
    await configError(
      '{"campaign_id": 1, "batchsize": 10}',
      (p) => `${p}: unknown key "batchsize"`,
      `allowed keys: ${keys.join(", ")}`,
    );
  });

  await t.step(
    "unknown nested key → error naming its path and the allowed keys there",
    async () => {
      await configError(
        '{"settings": {"ignore_block_list": true}}',
        (p) => `${p}: unknown key "settings.ignore_block_list"`,
        "allowed keys in settings: ignore_global_block_list, ignore_unsubscribe_list, " +
          "ignore_community_bounce_list, ignore_duplicate_leads_in_other_campaign",
      );
    },
  );

  await t.step("wrong type → error naming the key", async () => {
    await configError(
      '{"batch_size": "100"}',
      (p) => `${p}: key "batch_size": Invalid input: expected number, received string`,
    );
    await configError(
      '{"settings": {"ignore_unsubscribe_list": "yes"}}',
      (p) =>
        `${p}: key "settings.ignore_unsubscribe_list": Invalid input: expected boolean, received string`,
    );
    await configError('{"rate": "fast"}', (p) => `${p}: key "rate": expected n/seconds, e.g. 10/2`);
    await configError(
      '{"batch_size": 401}',
      (p) => `${p}: key "batch_size": Too big: expected number to be <=400`,
    );
  });

  await t.step("invalid JSON and non-objects", async () => {
    await configError('{"a": 1,}', (p) => `${p}: not valid JSON (${jsonError('{"a": 1,}')})`);
    for (const text of ["[]", "null", "7"]) {
      await configError(text, (p) => `${p}: expected a JSON object of settings`);
    }
  });

  await t.step("an explicit path must exist", async () => {
    await assert.rejects(loadConfig("/nonexistent/c.json"), (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assert.equal(e.message, "cannot read the config file /nonexistent/c.json: no such file");
      return true;
    });
  });

  await t.step("stripJsonComments keeps strings with // and escaped quotes", () => {
    assert.equal(
      stripJsonComments('{"a": "x//y \\" // z", // c\n"b": 1}'),
      '{"a": "x//y \\" // z", \n"b": 1}',
    );
  });

  await t.step("block comments are blanked, keeping lines; /* inside strings stays", () => {
    assert.equal(
      stripJsonComments('{/* a\nb */"a": "/* not */", /**/"b": 1}'),
      '{    \n    "a": "/* not */",     "b": 1}',
    );
  });

  await t.step("default file: .jsonc, else the older .json, else none", async () => {
    const dir = await Deno.makeTempDir({ prefix: "config-test-" });
    const cwd = Deno.cwd();
    Deno.chdir(dir);
    try {
      assert.deepEqual(await loadConfig(undefined), { config: {} });
      await Deno.writeTextFile("smartlead-sync.json", '{"campaign_id": 1}');
      assert.deepEqual(await loadConfig(undefined), {
        config: { campaign_id: 1 },
        path: "smartlead-sync.json",
      });
      await Deno.writeTextFile("smartlead-sync.jsonc", '/* new */ {"campaign_id": 2}');
      assert.deepEqual(await loadConfig(undefined), {
        config: { campaign_id: 2 },
        path: "smartlead-sync.jsonc",
      });
    } finally {
      Deno.chdir(cwd);
      await Deno.remove(dir, { recursive: true });
    }
  });
});

function jsonError(text: string): string {
  try {
    JSON.parse(text);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("parsed");
}
