/**
 * `deno task demo`: starts the local Smartlead sandbox, pushes examples/leads.csv into it
 * with the real CLI, pushes it again (nothing to send the second time), and shows what
 * landed in the campaign.
 */
import { startSandbox } from "../lib/sandbox/server.ts";
import { permissionFlags } from "./permissions.ts";

const root = new URL("..", import.meta.url).pathname;
const sb = await startSandbox({
  apiKey: "demo-key",
  campaignIds: [1],
  rate: { requests: 10, windowMs: 2000 },
});
const state = await Deno.makeTempDir({ prefix: "smartlead-sync-demo-" });
const say = (t: string) => Deno.stderr.writeSync(new TextEncoder().encode(t + "\n"));

async function cli(args: string[]): Promise<number> {
  say(`\n$ smartlead-sync ${args.join(" ")}`);
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...permissionFlags(["127.0.0.1"]), `${root}cli.ts`, ...args],
    env: { SMARTLEAD_BASE_URL: sb.url, SMARTLEAD_API_KEY: sb.apiKey, XDG_STATE_HOME: state },
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  return code;
}

try {
  say(`sandbox: ${sb.url} (key ${sb.apiKey}, campaign 1, limited to 10 requests / 2 s)`);
  await cli(["mapping", `${root}examples/leads.csv`]);
  const first = await cli([
    "push",
    `${root}examples/leads.csv`,
    "--campaign-id",
    "1",
    "--tags",
    "demo",
    "--rejects",
    `${state}/rejects.ndjson`,
  ]);
  await cli(["push", `${root}examples/leads.csv`, "--campaign-id", "1", "--tags", "demo"]);
  await cli(["state", "--campaign-id", "1"]);
  say("\nIn the sandbox campaign now:");
  for (const l of sb.state.campaignLeads(1)) {
    say(
      `  ${l.email.padEnd(28)} ${`${l.first_name ?? ""} ${l.last_name ?? ""}`.padEnd(20)} ${
        l.company_name ?? ""
      }  ${JSON.stringify(l.custom_fields)}`,
    );
  }
  say(
    `\nRejected rows (${state}/rejects.ndjson):\n${await Deno.readTextFile(
      `${state}/rejects.ndjson`,
    )}`,
  );
  if (first !== 0) Deno.exitCode = first;
} finally {
  await sb.close();
  await Deno.remove(state, { recursive: true });
}
