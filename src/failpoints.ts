/**
 * Named pauses inside stages, for fault tests only (MLL_FAILPOINTS=extract-mid=sleep:5000,...).
 * A failpoint never changes what a stage does; it only widens the window in which a test can
 * kill a worker at a precise point. Unset in production: then `failpoint()` returns at once.
 */
export type FailpointName = 'extract-mid' | 'build-mid' | 'push-mid' | 'outbox-relay';

export function parseFailpoints(spec: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const part of spec.split(',').filter(Boolean)) {
    const [name, action] = part.split('=');
    const ms = Number(action?.replace(/^sleep:/, ''));
    if (name && Number.isFinite(ms)) out.set(name, ms);
  }
  return out;
}

export async function failpoint(points: Map<string, number> | undefined, name: FailpointName, signal?: AbortSignal): Promise<void> {
  const ms = points?.get(name);
  if (!ms) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
