/**
 * `smartlead-sync airbyte spec|check|write`: the Airbyte destination. Stdout carries only
 * Airbyte protocol messages (SPEC, CONNECTION_STATUS, STATE, LOG, TRACE); a fatal error is
 * a TRACE ERROR with its failure type, then the usual `error:` line on stderr and exit code.
 */
import { Command } from "commander";
import { SmartleadClient } from "../client/smartlead.ts";
import { SyncError } from "../errors.ts";
import {
  connectionStatus,
  errorTrace,
  failureTypeOf,
  type LogLevel,
  logMessage,
} from "../airbyte/messages.ts";
import { connectorSpecification, readConfig } from "../airbyte/spec.ts";
import { airbyteWrite } from "../airbyte/write.ts";
import { readLines } from "../protocol/lines.ts";
import { redact, registerSecret } from "../redact.ts";
import type { CommandContext } from "./context.ts";
import { stopOnSignals } from "./signals.ts";

/** Prints one protocol message per line on stdout. */
function emitter(ctx: CommandContext) {
  const emit = (line: string) => ctx.output.out(line + "\n");
  const log = (level: LogLevel, message: string) => emit(logMessage(level, redact(message)));
  return { emit, log };
}

/** Emits the TRACE ERROR for `e`, then lets cli.ts print it and exit with its code. */
function fail(ctx: CommandContext, e: unknown): never {
  const { emit } = emitter(ctx);
  const message = e instanceof Error ? e.message : String(e);
  const hint = e instanceof SyncError ? e.hint : undefined;
  emit(
    errorTrace(
      redact(hint ? `${message} — ${hint}` : message),
      failureTypeOf(e),
      e instanceof Error ? redact(`${e.name}: ${e.message}`) : undefined,
    ),
  );
  throw e;
}

export const airbyteCommand = (ctx: CommandContext): Command => {
  const cmd = new Command("airbyte")
    .summary("run as an Airbyte destination (spec, check, write)")
    .description(
      "The Airbyte destination protocol: stdout carries only Airbyte messages. Build the image " +
        "with the Dockerfile; see the README, section Airbyte.",
    );
  cmd.addCommand(
    new Command("spec")
      .description("print the connector specification (one SPEC message)")
      .action(() => {
        ctx.output.out(JSON.stringify({ type: "SPEC", spec: connectorSpecification() }) + "\n");
      }),
  );
  cmd.addCommand(
    new Command("check")
      .description("check the config, the API key and the campaign (one CONNECTION_STATUS)")
      .requiredOption("--config <path>", "the connector config (JSON)")
      .option("--catalog <path>", "accepted and ignored")
      .action(async (flags: { config: string }) => {
        const { emit } = emitter(ctx);
        try {
          const config = await readConfig(flags.config);
          registerSecret(config.api_key);
          const client = new SmartleadClient({
            apiKey: config.api_key,
            ...(config.base_url ? { baseUrl: config.base_url } : {}),
            maxAttempts: 3,
          });
          const campaign = await client.getCampaign(config.campaign_id);
          emit(
            connectionStatus(
              true,
              `campaign ${campaign.id}${campaign.name ? ` "${campaign.name}"` : ""}`,
            ),
          );
        } catch (e) {
          const message = e instanceof Error ? e.message : String(e);
          const hint = e instanceof SyncError && e.hint ? ` — ${e.hint}` : "";
          emit(connectionStatus(false, redact(message + hint)));
        }
      }),
  );
  cmd.addCommand(
    new Command("write")
      .description("load AirbyteMessages from stdin into the campaign")
      .requiredOption("--config <path>", "the connector config (JSON)")
      .requiredOption("--catalog <path>", "the configured catalog (JSON)")
      .action(async (flags: { config: string; catalog: string }) => {
        const { emit, log } = emitter(ctx);
        const stop = stopOnSignals((sig) => log("WARN", `${sig}: finishing the batches in flight`));
        try {
          await airbyteWrite({
            configPath: flags.config,
            catalogPath: flags.catalog,
            lines: readLines(ctx.stdin, "stdin"),
            emit,
            log,
            debug: ctx.debug,
            signal: stop.signal,
          });
        } catch (e) {
          fail(ctx, e);
        } finally {
          stop.dispose();
        }
      }),
  );
  return cmd;
};
