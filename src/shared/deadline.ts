/**
 * Waits for `work` at most `ms` milliseconds. Never rejects: a failure counts as settled. Used where
 * waiting longer is worse than leaving the work behind (shutdown, closing connections).
 */
export async function settleWithin(work: Promise<unknown>, ms: number): Promise<'settled' | 'late'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), Math.max(0, ms));
  });
  try {
    return await Promise.race([work.then(() => 'settled' as const, () => 'settled' as const), late]);
  } finally {
    clearTimeout(timer);
  }
}
