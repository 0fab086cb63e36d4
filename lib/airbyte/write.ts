/**
 * `airbyte write`: AirbyteMessages on stdin into one Smartlead campaign. Records of the
 * configured streams go through push (the same mapper, validator, index, guard rails and
 * client as a CSV file); each STATE goes back out verbatim, in order, once every record
 * before it is committed or classified. The index lives in a temporary directory, rebuilt
 * from the campaign at the start (Airbyte deletes the container after each sync).
 */
import { SmartleadClient } from "../client/smartlead.ts";
import { IndexStore } from "../index/store.ts";
import { type Line, parseMessage, ProtocolInputError } from "../protocol/lines.ts";
import { drive, DriveFailed, type Handled } from "../protocol/driver.ts";
import { describeEmailField, EMAIL_MAP, recordForPush } from "../protocol/email_field.ts";
import { rebuildFromCampaign } from "../protocol/rebuild_index.ts";
import { rejectWarnings, summaryLine } from "../protocol/report.ts";
import { missingOptions, readJson, sharedPushOptions } from "../protocol/settings.ts";
import type { PushOptions } from "../push.ts";
import { registerSecret } from "../redact.ts";
import { VERSION } from "../version.ts";
import type { LogLevel } from "./messages.ts";
import { planWrite, readConfig, streamKey } from "./spec.ts";

export interface WriteOptions {
  configPath: string;
  catalogPath: string;
  /** AirbyteMessages, one per line. */
  lines: AsyncIterable<Line[]>;
  /** Writes one protocol message line (without its newline) to stdout. */
  emit: (line: string) => void;
  log: (level: LogLevel, message: string) => void;
  debug: boolean;
  signal?: AbortSignal;
}

/** Runs a write; throws the error that ended it (the caller turns it into a TRACE). */
export async function airbyteWrite(w: WriteOptions): Promise<void> {
  const config = await readConfig(w.configPath);
  registerSecret(config.api_key);
  const plan = planWrite(await readJson(w.catalogPath, "--catalog"), config, w.catalogPath);
  const missing = missingOptions(config.missing ?? "ignore", plan.fullRefresh, "config");
  const base = sharedPushOptions(config, "config");
  w.log(
    "INFO",
    `smartlead-sync ${VERSION}: ${plan.fullRefresh ? "full refresh" : "incremental dedup"} ` +
      `into campaign ${config.campaign_id}; streams: ${
        [...plan.streams.values()].map((s) =>
          `${s.key} (email from ${describeEmailField(s.email)})`
        ).join("; ") || "none"
      }`,
  );
  const dir = await Deno.makeTempDir({ prefix: "smartlead-sync-airbyte-" });
  const statePath = `${dir}/index.db`;
  const rejectsPath = `${dir}/rejects.ndjson`;
  const skipped = new Map<string, number>();

  const handle = (line: Line): Handled => {
    const msg = parseMessage(line, "stdin");
    if (msg.type === "RECORD") {
      const rec = msg.record as { stream?: unknown; namespace?: unknown; data?: unknown };
      if (!rec || typeof rec !== "object" || typeof rec.stream !== "string") {
        throw new ProtocolInputError(
          `stdin: line ${line.number}: a RECORD without record.stream`,
          "the input must be AirbyteMessages",
        );
      }
      const key = streamKey(rec.stream, typeof rec.namespace === "string" ? rec.namespace : null);
      const stream = plan.streams.get(key);
      if (!stream) {
        const n = skipped.get(key) ?? 0;
        if (n === 0) {
          w.log(
            "WARN",
            `records of stream ${key} are skipped: it is not in the configured catalog`,
          );
        }
        skipped.set(key, n + 1);
        return { kind: "other" };
      }
      return { kind: "record", stream: key, data: recordForPush(rec.data, stream.email.field) };
    }
    if (msg.type === "STATE") return { kind: "state", emit: () => w.emit(line.text) };
    if (w.debug) w.log("DEBUG", `ignored a ${String(msg.type)} message (line ${line.number})`);
    return { kind: "other" };
  };

  const start = async (): Promise<PushOptions> => {
    const opts: PushOptions = {
      ...base,
      map: EMAIL_MAP,
      mode: plan.fullRefresh ? "full-refresh" : "incremental",
      ...missing,
      // The campaign belongs to this connection: removal applies to every lead a full
      // refresh no longer has, whoever added it (the rebuilt index cannot tell).
      ...(missing.deleteMissing || missing.missing ? { deleteForeign: true } : {}),
      state: statePath,
      rejectsPath,
      log: (l) => w.log("INFO", l),
      ...(w.debug ? { debug: (l: string) => w.log("DEBUG", l) } : {}),
      ...(w.signal ? { signal: w.signal } : {}),
    };
    // A full refresh resends every lead, so only removal needs to know the campaign.
    if (!plan.fullRefresh || missing.deleteMissing || missing.missing) {
      const client = new SmartleadClient({
        apiKey: config.api_key,
        baseUrl: opts.baseUrl!,
        ...(opts.rate ? { rate: opts.rate } : {}),
        ...(opts.backoffBaseMs !== undefined ? { backoffBaseMs: opts.backoffBaseMs } : {}),
        ...(w.signal ? { signal: w.signal } : {}),
        ...(opts.debug ? { debug: opts.debug } : {}),
      });
      await client.getCampaign(config.campaign_id);
      const store = new IndexStore(statePath);
      try {
        const n = await rebuildFromCampaign(client, store, config.campaign_id);
        w.log("INFO", `index rebuilt from campaign ${config.campaign_id}: ${n} leads`);
      } finally {
        store.close();
      }
    }
    return opts;
  };

  try {
    const result = await drive(w.lines, { handle, start });
    if (result.summary) {
      for (const line of await rejectWarnings(rejectsPath, result.records)) w.log("WARN", line);
      w.log("INFO", summaryLine(result.summary, result.records));
    } else {
      w.log("INFO", "no records for the configured streams: nothing was sent");
    }
    for (const [key, n] of skipped) {
      w.log("WARN", `${n} records of stream ${key} skipped: not in the configured catalog`);
    }
  } catch (e) {
    if (e instanceof DriveFailed) {
      if (e.summary) {
        for (const line of await rejectWarnings(rejectsPath, e.records)) w.log("WARN", line);
        w.log("INFO", summaryLine(e.summary, e.records));
      }
      throw e.error;
    }
    throw e;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
