/**
 * Where the API key comes from, in this order: `--api-key`, `--api-key-file`,
 * `SMARTLEAD_API_KEY`, `SMARTLEAD_API_KEY_FILE`, the config file's `api_key`. A flag wins over
 * the environment, which wins over the config file. Two ways at the same level (both flags,
 * or both variables) are a usage error, as in the official Docker images: which key was meant
 * is unclear, and a leftover variable must not silently win over a mounted secret.
 *
 * A key file (Docker and Kubernetes secrets, `<(pass show smartlead)`) is read once, its
 * surrounding whitespace (the trailing newline of `echo key > file`) removed; an empty file,
 * a directory, a file of several lines or one larger than 64 kB is refused (exit 2).
 */
import { env } from "../env.ts";
import { UsageError } from "../errors.ts";
import { describeFsError } from "../input/source.ts";
import type { Output } from "../output.ts";
import { registerSecret } from "../redact.ts";

/** A key file larger than this is not a key file (and `/dev/zero` must not hang the run). */
export const MAX_KEY_FILE_BYTES = 64 * 1024;

/** The key and how messages name where it came from. */
export interface KeySource {
  key: string;
  /** `--api-key`, `--api-key-file`, `SMARTLEAD_API_KEY`, `SMARTLEAD_API_KEY_FILE`, `<config>: api_key`. */
  from: string;
}

/** Key files already read in this process: a pipe can be read only once. */
const read = new Map<string, string>();

/**
 * Reads a key file: whitespace around the key removed, refused when it is empty, a
 * directory, several lines or too large. `origin` names the flag or variable in messages.
 */
export async function readKeyFile(path: string, origin: string): Promise<string> {
  const cached = read.get(path);
  if (cached !== undefined) return cached;
  const refuse = (why: string, hint = `check ${origin}`) =>
    new UsageError(`the API key file ${path} (${origin}) ${why}`, hint);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    throw refuse(`cannot be read: ${describeFsError(e)}`);
  }
  if (info.isDirectory) {
    throw refuse(
      "is a directory",
      `name the file in it that holds the key (e.g. /run/secrets/<name>), with ${origin}`,
    );
  }
  const bytes = new Uint8Array(MAX_KEY_FILE_BYTES + 1);
  let size = 0;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    throw refuse(`cannot be read: ${describeFsError(e)}`);
  }
  try {
    while (size < bytes.length) {
      const n = await file.read(bytes.subarray(size));
      if (n === null) break;
      size += n;
    }
  } catch (e) {
    throw refuse(`cannot be read: ${describeFsError(e)}`);
  } finally {
    file.close();
  }
  if (size > MAX_KEY_FILE_BYTES) {
    throw refuse(`is larger than ${MAX_KEY_FILE_BYTES / 1024} kB: not a key file`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(0, size));
  } catch {
    throw refuse("is not text: not a key file");
  }
  const key = text.replace(/^\uFEFF/, "").trim();
  if (key === "") {
    throw refuse("is empty", `write the key into it, or check ${origin}`);
  }
  if (/\s/.test(key)) {
    throw refuse(
      "holds more than the key (whitespace or several lines inside)",
      "the file must hold the key alone, on one line",
    );
  }
  registerSecret(key);
  read.set(path, key);
  return key;
}

/**
 * The API key by precedence (see the module comment), registered for redaction; undefined
 * when none is given anywhere.
 */
export async function resolveApiKey(
  flags: { apiKey?: string | undefined; apiKeyFile?: string | undefined },
  config: { key?: string | undefined; path?: string | undefined },
): Promise<KeySource | undefined> {
  if (flags.apiKey !== undefined && flags.apiKeyFile !== undefined) {
    throw new UsageError(
      "--api-key and --api-key-file are both given",
      "give one of them (--api-key-file keeps the key out of ps)",
    );
  }
  let source: KeySource | undefined;
  if (flags.apiKey !== undefined) source = { key: flags.apiKey, from: "--api-key" };
  else if (flags.apiKeyFile !== undefined) {
    source = {
      key: await readKeyFile(flags.apiKeyFile, "--api-key-file"),
      from: "--api-key-file",
    };
  } else {
    const key = env("SMARTLEAD_API_KEY");
    const file = env("SMARTLEAD_API_KEY_FILE");
    if (key !== undefined && file !== undefined) {
      throw new UsageError(
        "SMARTLEAD_API_KEY and SMARTLEAD_API_KEY_FILE are both set",
        "unset one of them",
      );
    }
    if (key !== undefined) source = { key, from: "SMARTLEAD_API_KEY" };
    else if (file !== undefined) {
      source = {
        key: await readKeyFile(file, "SMARTLEAD_API_KEY_FILE"),
        from: "SMARTLEAD_API_KEY_FILE",
      };
    } else if (config.key !== undefined) {
      source = { key: config.key, from: `${config.path}: api_key` };
    }
  }
  registerSecret(source?.key);
  return source;
}

/** Runs already warned about `--api-key` (once per run, whatever calls resolve the key). */
const warned = new WeakSet<object>();

/**
 * Warns once on stderr that a key given with `--api-key` is visible to every user of the
 * machine (`ps`, `/proc/<pid>/cmdline`) for as long as the run lasts.
 */
export function warnKeyOnCommandLine(run: object, output: Output, source?: KeySource): void {
  if (source?.from !== "--api-key" || warned.has(run)) return;
  warned.add(run);
  output.err(
    "warning: --api-key on the command line is visible to other users of this machine (ps) — " +
      "use SMARTLEAD_API_KEY or --api-key-file instead\n",
  );
}
