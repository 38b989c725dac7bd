/**
 * Named pauses inside stages, for fault tests only (MLL_FAILPOINTS=extract-mid=sleep:5000,...).
 * A failpoint never changes what a stage does; it only widens the window in which a test can
 * kill a worker at a precise point. Unset in production: then `failpoint()` returns at once.
 *
 * - extract-mid, build-mid: in the middle of the stage
 * - push-mid: between publishing the image and releasing the version
 * - registry-blob-mid: inside a blob upload to the registry (the first bytes of the body sent)
 * - s3-multipart-mid: inside a multipart upload to S3 (the first part uploaded, the rest not)
 * - outbox-relay: between a terminal transition's commit and the relay of its webhook event
 * - intake-numbered: between a new version's number (and the idempotent answer kept with it) and its record's write
 * - intake-written: between a new version's record in the store and in Redis
 * - intake-recorded: between a new version's record and the enqueueing of its stages
 *
 * A pause says so on stderr when it starts, so a test knows the process is in it.
 */
export type FailpointName = 'extract-mid' | 'build-mid' | 'push-mid' | 'registry-blob-mid' | 's3-multipart-mid' | 'outbox-relay' | 'intake-numbered' | 'intake-written' | 'intake-recorded';

/** Failpoint name → pause in ms, as MLL_FAILPOINTS is parsed once into the config. */
export type Failpoints = ReadonlyMap<string, number>;

export function parseFailpoints(spec: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const part of spec.split(',').filter(Boolean)) {
    const [name, action] = part.split('=');
    const ms = Number(action?.replace(/^sleep:/, ''));
    if (name && Number.isFinite(ms)) out.set(name, ms);
  }
  return out;
}

export async function failpoint(points: Failpoints | undefined, name: FailpointName, signal?: AbortSignal): Promise<void> {
  const ms = points?.get(name);
  if (!ms) return;
  process.stderr.write(`failpoint ${name}: pausing ${ms} ms\n`);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
