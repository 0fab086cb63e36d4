/**
 * The Airbyte protocol messages this destination reads and writes, as zod schemas written
 * from airbytehq/airbyte-protocol `airbyte_protocol.yaml` (v0): every object keeps unknown
 * keys (`additionalProperties: true` there), required fields and enums as the YAML has them.
 */
import { z } from "zod";
import {
  AuthError,
  CampaignNotFoundError,
  CreditsExhaustedError,
  InterruptedError,
  LockedError,
  UnavailableError,
  UsageError,
} from "../errors.ts";
import { DeleteLimitError } from "../pipeline/guard_rails.ts";
import { ProtocolInputError } from "../protocol/lines.ts";

export const StreamDescriptorSchema = z.looseObject({
  name: z.string(),
  namespace: z.string().optional(),
});

export const AirbyteLogMessageSchema = z.looseObject({
  level: z.enum(["FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"]),
  message: z.string(),
  stack_trace: z.string().optional(),
});

export const AirbyteErrorTraceMessageSchema = z.looseObject({
  message: z.string(),
  internal_message: z.string().optional(),
  stack_trace: z.string().optional(),
  failure_type: z.enum(["system_error", "config_error", "transient_error"]).optional(),
  stream_descriptor: StreamDescriptorSchema.optional(),
});

export const AirbyteTraceMessageSchema = z.looseObject({
  type: z.enum(["ERROR", "ESTIMATE", "STREAM_STATUS", "ANALYTICS"]),
  emitted_at: z.number(),
  error: AirbyteErrorTraceMessageSchema.optional(),
});

export const AirbyteConnectionStatusSchema = z.looseObject({
  status: z.enum(["SUCCEEDED", "FAILED"]),
  message: z.string().optional(),
});

export const DestinationSyncModeSchema = z.enum([
  "append",
  "overwrite",
  "append_dedup",
  "update",
  "soft_delete",
]);
export type DestinationSyncMode = z.infer<typeof DestinationSyncModeSchema>;

export const ConnectorSpecificationSchema = z.looseObject({
  documentationUrl: z.string().optional(),
  changelogUrl: z.string().optional(),
  connectionSpecification: z.looseObject({}),
  supportsIncremental: z.boolean().optional(),
  supportsNormalization: z.boolean().optional(),
  supportsDBT: z.boolean().optional(),
  supported_destination_sync_modes: z.array(DestinationSyncModeSchema).optional(),
  protocol_version: z.string().optional(),
});

const BlobSchema = z.looseObject({});

export const AirbyteStreamStateSchema = z.looseObject({
  stream_descriptor: StreamDescriptorSchema,
  stream_state: BlobSchema.optional(),
});

export const AirbyteStateMessageSchema = z.looseObject({
  type: z.enum(["GLOBAL", "STREAM", "LEGACY"]).optional(),
  stream: AirbyteStreamStateSchema.optional(),
  global: z.looseObject({
    shared_state: BlobSchema.optional(),
    stream_states: z.array(AirbyteStreamStateSchema),
  }).optional(),
  data: z.unknown().optional(),
  sourceStats: z.looseObject({ recordCount: z.number().optional() }).optional(),
  destinationStats: z.looseObject({ recordCount: z.number().optional() }).optional(),
});

export const AirbyteRecordMessageSchema = z.looseObject({
  namespace: z.string().optional(),
  stream: z.string(),
  data: z.unknown(),
  emitted_at: z.number(),
});

/** Every message: `type` required, the payload named after it. */
export const AirbyteMessageSchema = z.looseObject({
  type: z.enum([
    "RECORD",
    "STATE",
    "LOG",
    "SPEC",
    "CONNECTION_STATUS",
    "CATALOG",
    "TRACE",
    "CONTROL",
    "DESTINATION_CATALOG",
  ]),
  log: AirbyteLogMessageSchema.optional(),
  spec: ConnectorSpecificationSchema.optional(),
  connectionStatus: AirbyteConnectionStatusSchema.optional(),
  record: AirbyteRecordMessageSchema.optional(),
  state: AirbyteStateMessageSchema.optional(),
  trace: AirbyteTraceMessageSchema.optional(),
});

/** The messages this destination writes on stdout, each with its payload present. */
export const OutputMessageSchema = z.discriminatedUnion("type", [
  z.looseObject({ type: z.literal("SPEC"), spec: ConnectorSpecificationSchema }),
  z.looseObject({
    type: z.literal("CONNECTION_STATUS"),
    connectionStatus: AirbyteConnectionStatusSchema,
  }),
  z.looseObject({ type: z.literal("LOG"), log: AirbyteLogMessageSchema }),
  z.looseObject({
    type: z.literal("TRACE"),
    trace: AirbyteTraceMessageSchema.extend({
      type: z.literal("ERROR"),
      error: AirbyteErrorTraceMessageSchema,
    }),
  }),
  z.looseObject({ type: z.literal("STATE"), state: AirbyteStateMessageSchema }),
]);

export const ConfiguredAirbyteStreamSchema = z.looseObject({
  stream: z.looseObject({
    name: z.string(),
    namespace: z.string().optional(),
    json_schema: z.looseObject({}),
    supported_sync_modes: z.array(z.enum(["full_refresh", "incremental"])).optional(),
  }),
  sync_mode: z.enum(["full_refresh", "incremental"]),
  destination_sync_mode: DestinationSyncModeSchema,
  primary_key: z.array(z.array(z.string())).optional(),
  cursor_field: z.array(z.string()).optional(),
  generation_id: z.number().int().nullish(),
  minimum_generation_id: z.number().int().nullish(),
  sync_id: z.number().int().nullish(),
});
export type ConfiguredAirbyteStream = z.infer<typeof ConfiguredAirbyteStreamSchema>;

export const ConfiguredAirbyteCatalogSchema = z.looseObject({
  streams: z.array(ConfiguredAirbyteStreamSchema),
});

export type LogLevel = z.infer<typeof AirbyteLogMessageSchema>["level"];
export type FailureType = "system_error" | "config_error" | "transient_error";

/** A LOG message line. */
export function logMessage(level: LogLevel, message: string): string {
  return JSON.stringify({ type: "LOG", log: { level, message } });
}

/** A TRACE ERROR message line. */
export function errorTrace(
  message: string,
  failureType: FailureType,
  internal?: string,
  now: () => number = Date.now,
): string {
  const error: Record<string, unknown> = { message, failure_type: failureType };
  if (internal !== undefined) error.internal_message = internal;
  return JSON.stringify({ type: "TRACE", trace: { type: "ERROR", emitted_at: now(), error } });
}

/** A CONNECTION_STATUS message line. */
export function connectionStatus(ok: boolean, message?: string): string {
  return JSON.stringify({
    type: "CONNECTION_STATUS",
    connectionStatus: { status: ok ? "SUCCEEDED" : "FAILED", ...(message ? { message } : {}) },
  });
}

/**
 * Whose fault an error is: the config (fix a setting and run again), a passing condition
 * (run again later), or the connector.
 */
export function failureTypeOf(e: unknown): FailureType {
  if (e instanceof ProtocolInputError) return "system_error";
  if (
    e instanceof AuthError || e instanceof CampaignNotFoundError ||
    e instanceof CreditsExhaustedError || e instanceof DeleteLimitError ||
    e instanceof UsageError
  ) return "config_error";
  if (
    e instanceof UnavailableError || e instanceof LockedError || e instanceof InterruptedError
  ) return "transient_error";
  return "system_error";
}
