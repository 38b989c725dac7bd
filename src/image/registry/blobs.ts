import { Readable } from 'node:stream';
import { repositoryScope } from './challenges.js';
import type { RegistryClient } from './client.js';

/** Whether the repository has the blob (HEAD). */
export async function blobExists(client: RegistryClient, repository: string, digest: string, signal?: AbortSignal, scopes?: string[]): Promise<boolean> {
  const res = await client.request({
    method: 'HEAD', path: `/v2/${repository}/blobs/${digest}`, scopes: scopes ?? [repositoryScope(repository, 'pull')], signal,
  });
  await res.drain();
  if (res.status === 200) return true;
  if (res.status === 404) return false;
  throw await client.failure(res, `Checking blob ${digest} in ${repository}`);
}

/** Bytes [start, end) of a blob (the whole blob by default); follows redirects to storage, without our auth. */
export async function getBlob(client: RegistryClient, repository: string, digest: string, range?: { start: number; end: number }, signal?: AbortSignal): Promise<Readable> {
  const headers: Record<string, string> = {};
  if (range) headers.range = `bytes=${range.start}-${range.end - 1}`;
  let res = await client.request({
    method: 'GET', path: `/v2/${repository}/blobs/${digest}`, scopes: [repositoryScope(repository, 'pull')], headers, signal,
  });
  for (let hops = 0; [301, 302, 303, 307, 308].includes(res.status) && hops < 3; hops++) {
    const location = res.header('location');
    await res.drain();
    if (!location) break;
    res = await client.request({ method: 'GET', url: new URL(location, client.baseUrl), scopes: [], headers, signal, noAuth: true });
  }
  if (res.status === 206 || (res.status === 200 && !range)) return res.body;
  if (res.status === 200 && range) return skipBytes(res.body, range.start, range.end - range.start);
  throw await client.failure(res, `Reading blob ${digest} from ${repository}`);
}

/**
 * A wrapper destroyed before it was read never runs its generator, so the source it wraps (an
 * HTTP response from another registry, say) would stay open and hold its connection forever.
 */
export function tiedTo(wrapper: Readable, source: Readable): Readable {
  wrapper.once('close', () => {
    if (!source.destroyed) source.destroy();
  });
  return wrapper;
}

/** A registry that ignored the Range header: skip to the range ourselves. */
function skipBytes(body: Readable, skip: number, length: number): Readable {
  async function* gen(): AsyncGenerator<Buffer> {
    let toSkip = skip;
    let left = length;
    for await (const raw of body as AsyncIterable<Buffer>) {
      let chunk = raw;
      if (toSkip > 0) {
        if (chunk.length <= toSkip) { toSkip -= chunk.length; continue; }
        chunk = chunk.subarray(toSkip);
        toSkip = 0;
      }
      if (chunk.length >= left) { yield chunk.subarray(0, left); body.destroy(); return; }
      left -= chunk.length;
      yield chunk;
    }
  }
  return tiedTo(Readable.from(gen(), { objectMode: false }), body);
}
