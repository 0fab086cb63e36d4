/** Running a benchmark subprocess and measuring its wall time and peak RSS. */

/** This process's peak RSS (VmHWM), or undefined where /proc is not available. */
export function peakRssBytes(pid: number | "self" = "self"): number | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export interface Measured {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
  /** Peak RSS of the child in bytes; undefined when it could not be measured. */
  peakRss: number | undefined;
}

const TIME_BIN = "/usr/bin/time";
let haveTime: boolean | undefined;

function timeAvailable(): boolean {
  if (haveTime === undefined) {
    try {
      haveTime = Deno.statSync(TIME_BIN).isFile;
    } catch {
      haveTime = false;
    }
  }
  return haveTime;
}

/**
 * Runs `deno <args>` and measures it: wall time from spawn to exit, peak RSS from GNU time's
 * `%M` when /usr/bin/time exists, else by sampling the child's VmHWM every 20 ms.
 */
export async function measureDeno(
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string; clearEnv?: boolean } = {},
): Promise<Measured> {
  const useTime = timeAvailable();
  const rssFile = useTime ? await Deno.makeTempFile({ prefix: "bench-rss-" }) : undefined;
  const cmd = useTime
    ? new Deno.Command(TIME_BIN, {
      args: ["-f", "%M", "-o", rssFile!, Deno.execPath(), ...args],
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      clearEnv: opts.clearEnv ?? false,
      env: { NO_COLOR: "1", ...opts.env },
      stdout: "piped",
      stderr: "piped",
    })
    : new Deno.Command(Deno.execPath(), {
      args,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      clearEnv: opts.clearEnv ?? false,
      env: { NO_COLOR: "1", ...opts.env },
      stdout: "piped",
      stderr: "piped",
    });
  const t0 = performance.now();
  const child = cmd.spawn();
  let sampled: number | undefined;
  const timer = useTime ? undefined : setInterval(() => {
    const v = peakRssBytes(child.pid);
    if (v !== undefined) sampled = Math.max(sampled ?? 0, v);
  }, 20);
  const out = await child.output();
  const ms = performance.now() - t0;
  if (timer !== undefined) clearInterval(timer);
  let peakRss = sampled;
  if (rssFile) {
    const kb = Number((await Deno.readTextFile(rssFile)).trim().split("\n").pop());
    if (Number.isFinite(kb) && kb > 0) peakRss = kb * 1024;
    await Deno.remove(rssFile).catch(() => {});
  }
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
    ms,
    peakRss,
  };
}
