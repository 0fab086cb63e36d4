/** Environment variables the tool reads, and nothing else (they are the `--allow-env` list). */
export const ENV_VARS = [
  "SMARTLEAD_API_KEY",
  "SMARTLEAD_API_KEY_FILE",
  "SMARTLEAD_CAMPAIGN_ID",
  "SMARTLEAD_BASE_URL",
  "SMARTLEAD_SYNC_CONFIG",
  "SMARTLEAD_ALLOW_INSECURE_HTTP",
  "XDG_STATE_HOME",
  "HOME",
  "LOCALAPPDATA",
  "NO_COLOR",
  "SMARTLEAD_SYNC_ENTRY",
  "MELTANO_PROJECT_ROOT",
] as const;
export type EnvVar = typeof ENV_VARS[number];

/** Reads one of the tool's variables; a missing permission reads as unset. */
export function env(name: EnvVar): string | undefined {
  try {
    const v = Deno.env.get(name);
    return v === "" ? undefined : v;
  } catch {
    return undefined;
  }
}
