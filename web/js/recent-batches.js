/** Batches started from this browser, newest first (the API has no list of batches). */

const KEY = 'mll.recentBatches';
const MAX = 20;

export function recentBatches() {
  try {
    const list = JSON.parse(localStorage.getItem(KEY) ?? '[]');
    return Array.isArray(list) ? list.filter((b) => typeof b?.id === 'string') : [];
  } catch {
    return [];
  }
}

export function rememberBatch(batch) {
  const entry = { id: batch.id, createdAt: batch.createdAt ?? new Date().toISOString(), total: batch.total ?? null };
  const list = [entry, ...recentBatches().filter((b) => b.id !== batch.id)].slice(0, MAX);
  try {
    localStorage.setItem(KEY, JSON.stringify(list));
  } catch {
    /* storage disabled */
  }
}
