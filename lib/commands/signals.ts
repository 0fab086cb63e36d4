/**
 * The first SIGINT/SIGTERM asks a run to stop cleanly (no new batch starts, those in flight
 * finish and are recorded); the listener is then removed, so a second signal kills at once.
 */

/** Listens for SIGINT and SIGTERM until `dispose()`; `signal` aborts on the first. */
export function stopOnSignals(
  onStop: (signal: Deno.Signal) => void,
): { signal: AbortSignal; dispose: () => void } {
  const stop = new AbortController();
  const handlers = new Map<Deno.Signal, () => void>();
  const dispose = () => {
    for (const [sig, h] of handlers) {
      try {
        Deno.removeSignalListener(sig, h);
      } catch {
        // already removed
      }
    }
    handlers.clear();
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    const h = () => {
      dispose();
      onStop(sig);
      stop.abort(sig);
    };
    try {
      Deno.addSignalListener(sig, h);
      handlers.set(sig, h);
    } catch {
      // SIGTERM cannot be listened to on Windows
    }
  }
  return { signal: stop.signal, dispose };
}
