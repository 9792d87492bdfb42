// Run many independent async jobs with at most `width` at a time, results in input order.
export async function inPool<T, R>(items: readonly T[], width: number, job: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await job(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return results;
}

/** Signs that a program crashed instead of failing cleanly: a JavaScript stack trace or a Node internal error. */
export function crashSigns(text: string): string | undefined {
  const m = text.match(/^\s+at .+(\(|:\d+:\d+)|node:internal|Uncaught|FATAL ERROR|Segmentation fault|core dumped|Aborted/m);
  return m?.[0];
}
