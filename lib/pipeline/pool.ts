/**
 * Runs `fn` over items with at most `limit` in flight. On the first failure no new item
 * starts; the ones in flight finish (their results are recorded by `fn` itself), then the
 * failure is rethrown. Items are taken lazily, so a generator is read only as needed.
 */
export async function runPool<T>(
  items: Iterable<T>,
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  const it = items[Symbol.iterator]();
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined) {
      try {
        // Taking the next item may throw too (a stop request): the others still finish.
        const next = it.next();
        if (next.done) return;
        await fn(next.value);
      } catch (e) {
        failure ??= { error: e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker));
  if (failure) throw failure.error;
}
