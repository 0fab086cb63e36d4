/**
 * The destination's SPEC (its `connectionSpecification`, JSON Schema draft-07), the config
 * it validates against it, and what a configured catalog asks for: full refresh or
 * incremental dedup, and each stream's email field.
 */
import { UsageError } from "../errors.ts";
import { chooseEmailField, type EmailField } from "../protocol/email_field.ts";
import {
  describeIssue,
  HIDDEN_SETTINGS,
  parseShared,
  readJson,
  settingsProperties,
  type SharedConfig,
} from "../protocol/settings.ts";
import { ConfiguredAirbyteCatalogSchema, type ConfiguredAirbyteStream } from "./messages.ts";

/** The sync modes this destination supports (the original page: full refresh, dedup). */
export const SUPPORTED_SYNC_MODES = ["overwrite", "append_dedup"] as const;

/** The ConnectorSpecification. */
export function connectorSpecification(): Record<string, unknown> {
  const props = settingsProperties();
  const order = Object.keys(props);
  const properties: Record<string, Record<string, unknown>> = {};
  for (const [name, schema] of Object.entries(props)) {
    properties[name] = {
      ...schema,
      order: order.indexOf(name),
      ...((HIDDEN_SETTINGS as readonly string[]).includes(name) ? { airbyte_hidden: true } : {}),
    };
  }
  return {
    supportsIncremental: true,
    supportsNormalization: false,
    supportsDBT: false,
    supported_destination_sync_modes: [...SUPPORTED_SYNC_MODES],
    connectionSpecification: {
      $schema: "http://json-schema.org/draft-07/schema#",
      title: "Smartlead Destination Spec",
      type: "object",
      required: ["api_key", "campaign_id"],
      additionalProperties: true,
      properties,
    },
  };
}

/** Reads and checks `--config`; a usage error names the file and the field. */
export async function readConfig(path: string): Promise<SharedConfig> {
  return parseShared(await readJson(path, "--config"), `config ${path}`);
}

/** A configured stream as the write uses it. */
export interface WriteStream {
  /** `namespace.name`, or the name alone. */
  key: string;
  name: string;
  email: EmailField;
}

/** What the catalog asks of this write. */
export interface WritePlan {
  fullRefresh: boolean;
  streams: Map<string, WriteStream>;
}

/** The key a record or a stream is known by. */
export function streamKey(name: string, namespace: string | undefined | null): string {
  return namespace ? `${namespace}.${name}` : name;
}

/**
 * Overwrite, or a refresh that truncates (`minimum_generation_id` equal to a non-zero
 * `generation_id`; 0 means "no deletion expected"), is a full refresh; append_dedup is
 * incremental dedup. Other modes are refused, naming the mode and the stream.
 */
export function isFullRefresh(s: ConfiguredAirbyteStream): boolean {
  const truncate = typeof s.minimum_generation_id === "number" &&
    s.minimum_generation_id > 0 && s.minimum_generation_id === s.generation_id;
  return s.destination_sync_mode === "overwrite" || truncate;
}

/** Checks the catalog and decides the write. */
export function planWrite(catalog: unknown, config: SharedConfig, path: string): WritePlan {
  const parsed = ConfiguredAirbyteCatalogSchema.safeParse(catalog);
  if (!parsed.success) {
    throw new UsageError(
      `--catalog ${path}: ${describeIssue(parsed.error.issues[0]!)}`,
      "pass the configured catalog Airbyte wrote",
    );
  }
  const streams = new Map<string, WriteStream>();
  const modes = new Set<boolean>();
  for (const s of parsed.data.streams) {
    const key = streamKey(s.stream.name, s.stream.namespace);
    const mode = s.destination_sync_mode;
    if (!(SUPPORTED_SYNC_MODES as readonly string[]).includes(mode)) {
      throw new UsageError(
        `stream ${key}: destination sync mode "${mode}" is not supported`,
        `Smartlead supports ${SUPPORTED_SYNC_MODES.join(" and ")}: choose one in the connection`,
      );
    }
    modes.add(isFullRefresh(s));
    streams.set(key, {
      key,
      name: s.stream.name,
      email: chooseEmailField(config.email_field, s.primary_key, s.stream.json_schema),
    });
  }
  if (modes.size > 1) {
    throw new UsageError(
      "the streams mix full refresh (overwrite) and incremental dedup (append_dedup) into one campaign",
      "give every stream of this connection the same sync mode, or use one connection per mode",
    );
  }
  return { fullRefresh: modes.has(true), streams };
}
