/**
 * The Singer target: SCHEMA registers a stream and its key, RECORDs go through push (the same
 * mapper, validator, index, guard rails and client as a CSV file), each STATE's value goes to
 * stdout once every record before it is committed or classified, ACTIVATE_VERSION announces a
 * full-table pass (which drives removal of missing leads when removal is on). Logs go to
 * stderr; stdout carries state values only.
 */
import { type Line, parseMessage, ProtocolInputError } from "../protocol/lines.ts";
import { drive, DriveFailed, type Handled } from "../protocol/driver.ts";
import {
  chooseEmailField,
  describeEmailField,
  EMAIL_MAP,
  type EmailField,
  recordForPush,
} from "../protocol/email_field.ts";
import { rejectWarnings, summaryLine } from "../protocol/report.ts";
import { missingOptions, sharedPushOptions } from "../protocol/settings.ts";
import type { PushOptions } from "../push.ts";
import { registerSecret } from "../redact.ts";
import type { SingerConfig } from "./about.ts";

export interface TargetOptions {
  config: SingerConfig;
  /** Singer messages, one per line. */
  lines: AsyncIterable<Line[]>;
  /** Where the input comes from, for messages ("stdin" or the --input path). */
  inputName: string;
  /** Writes one state value line (without its newline) to stdout. */
  emitState: (line: string) => void;
  /** A line for people (stderr). */
  log: (line: string) => void;
  /** The index directory when the config names none (under the Meltano project). */
  defaultState: string | undefined;
  debug: boolean;
  signal?: AbortSignal;
}

interface Stream {
  email: EmailField;
}

/** Runs the target; throws the error that ended it. */
export async function singerTarget(t: TargetOptions): Promise<void> {
  const { config } = t;
  registerSecret(config.api_key);
  const overwrite = config.load_method === "overwrite";
  const streams = new Map<string, Stream>();
  const activated = new Set<string>();
  const base = sharedPushOptions(config, "config");
  const dir = await Deno.makeTempDir({ prefix: "smartlead-sync-singer-" });
  const rejectsPath = `${dir}/rejects.ndjson`;
  let started = false;

  const handle = (line: Line): Handled => {
    const msg = parseMessage(line, t.inputName);
    const at = `${t.inputName}: line ${line.number}`;
    const stream = typeof msg.stream === "string" ? msg.stream : undefined;
    switch (msg.type) {
      case "SCHEMA": {
        if (stream === undefined) {
          throw new ProtocolInputError(`${at}: a SCHEMA without stream`, "check the tap");
        }
        const key = Array.isArray(msg.key_properties)
          ? msg.key_properties.filter((k): k is string => typeof k === "string")
          : undefined;
        const email = chooseEmailField(config.email_field, key, msg.schema);
        if (!streams.has(stream)) {
          t.log(`stream ${stream}: email from ${describeEmailField(email)}`);
        }
        streams.set(stream, { email });
        return { kind: "other" };
      }
      case "RECORD": {
        const s = stream === undefined ? undefined : streams.get(stream);
        if (!s) {
          throw new ProtocolInputError(
            `${at}: a RECORD for stream ${JSON.stringify(stream ?? null)} before its SCHEMA`,
            "the tap must send a SCHEMA message before the stream's records",
          );
        }
        return { kind: "record", stream: stream!, data: recordForPush(msg.record, s.email.field) };
      }
      case "STATE": {
        const text = JSON.stringify(msg.value ?? null);
        return { kind: "state", emit: () => t.emitState(text) };
      }
      case "ACTIVATE_VERSION": {
        if (stream !== undefined) {
          if (!started) activated.add(stream);
          else if (t.debug) t.log(`ACTIVATE_VERSION for ${stream} after its records: noted only`);
        }
        return { kind: "other" };
      }
      case "BATCH":
        throw new ProtocolInputError(
          `${at}: BATCH messages are not supported`,
          "turn batch messages off in the tap (this target does not advertise the batch capability)",
        );
      default:
        t.log(`warning: ${at}: unknown message type ${JSON.stringify(msg.type ?? null)} skipped`);
        return { kind: "other" };
    }
  };

  const start = (): Promise<PushOptions> => {
    started = true;
    // A full pass: every run with overwrite, or a full-table pass the tap announced with
    // ACTIVATE_VERSION before its records.
    const fullPass = overwrite || activated.size > 0;
    const missing = missingOptions(config.missing ?? "ignore", fullPass, "config");
    const state = config.state ?? t.defaultState;
    return Promise.resolve({
      ...base,
      map: EMAIL_MAP,
      mode: overwrite ? "full-refresh" : "incremental",
      ...missing,
      ...(state !== undefined ? { state } : {}),
      rejectsPath,
      log: t.log,
      ...(t.debug ? { debug: t.log } : {}),
      ...(t.signal ? { signal: t.signal } : {}),
    });
  };

  try {
    const result = await drive(t.lines, { handle, start });
    if (result.summary) {
      for (const line of await rejectWarnings(rejectsPath, result.records)) {
        t.log(`warning: ${line}`);
      }
      t.log(summaryLine(result.summary, result.records));
    } else {
      t.log("no records: nothing was sent");
    }
  } catch (e) {
    if (e instanceof DriveFailed) {
      if (e.summary) {
        for (const line of await rejectWarnings(rejectsPath, e.records)) t.log(`warning: ${line}`);
        t.log(summaryLine(e.summary, e.records));
      }
      throw e.error;
    }
    throw e;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
