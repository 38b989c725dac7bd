import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import type { TreeManifest } from '../../src/domain/tree.js';
import type { BuildRequest } from '../../src/image/types.js';
import { services } from '../support/services.js';
import { uniqueName } from '../support/unique.js';
import { deleteManifest, docker, sha256 } from './helpers.js';

/** An image read back from where a target put it: its manifest (and digest), config, and each blob's bytes on demand. */
export interface StoredImage {
  manifestDigest: string;
  manifest: { mediaType: string; config: { digest: string; size: number }; layers: { mediaType: string; digest: string; size: number }[]; annotations?: Record<string, string> };
  config: ImageConfig;
  blob(digest: string): Promise<Buffer>;
}

export interface ImageConfig {
  config: { Env?: string[]; Cmd?: string[]; Entrypoint?: string[] | null; WorkingDir?: string; ExposedPorts?: Record<string, object>; Labels?: Record<string, string> };
  rootfs: { diff_ids: string[] };
}

const accept = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';

/** The image tagged `tag` in an OCI image layout directory. */
export async function readLayout(dir: string, tag: string): Promise<StoredImage> {
  const index = JSON.parse(await fs.readFile(path.join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!entry) throw new Error(`no tag ${tag} in ${dir}`);
  const blob = (digest: string) => fs.readFile(path.join(dir, 'blobs', 'sha256', digest.slice(7)));
  return readImage(entry.digest, blob);
}

/** The image tagged `tag` in a registry (anonymous, plain HTTP). */
export async function readRegistry(host: string, repository: string, tag: string): Promise<StoredImage> {
  const res = await fetch(`http://${host}/v2/${repository}/manifests/${tag}`, { headers: { accept } });
  if (res.status !== 200) throw new Error(`${host}/${repository}:${tag} answered ${res.status}`);
  const bytes = Buffer.from(await res.arrayBuffer());
  const blob = async (digest: string) => {
    const r = await fetch(`http://${host}/v2/${repository}/blobs/${digest}`);
    if (r.status !== 200) throw new Error(`blob ${digest} of ${host}/${repository} answered ${r.status}`);
    return Buffer.from(await r.arrayBuffer());
  };
  const image = await readImage(sha256(bytes), async (d) => (d === sha256(bytes) ? bytes : blob(d)));
  return image;
}

async function readImage(manifestDigest: string, blob: (digest: string) => Promise<Buffer>): Promise<StoredImage> {
  const manifestBytes = await blob(manifestDigest);
  if (sha256(manifestBytes) !== manifestDigest) throw new Error(`manifest ${manifestDigest} does not hold its bytes`);
  const manifest = JSON.parse(manifestBytes.toString('utf8')) as StoredImage['manifest'];
  const config = JSON.parse((await blob(manifest.config.digest)).toString('utf8')) as ImageConfig;
  return { manifestDigest, manifest, config, blob };
}

/** One path of an image's file system, as a user of the image sees it. */
export interface FsEntry {
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  size?: number;
  sha256?: string;
  target?: string;
}

/** The file system the image's layers make (whiteouts applied), every path under `under/`. */
export async function fileTree(image: StoredImage, under = 'model'): Promise<Record<string, FsEntry>> {
  const tree = new Map<string, FsEntry>();
  for (const layer of image.manifest.layers) {
    const bytes = await image.blob(layer.digest);
    if (sha256(bytes) !== layer.digest) throw new Error(`layer ${layer.digest} does not hold its bytes`);
    const tar = extract();
    const reading = (async () => {
      for await (const entry of tar) {
        const name = path.posix.normalize(entry.header.name).replace(/^\.?\//, '').replace(/\/$/, '');
        const base = path.posix.basename(name);
        if (base.startsWith('.wh.')) {
          const gone = path.posix.join(path.posix.dirname(name), base.slice(4));
          for (const p of [...tree.keys()]) if (p === gone || p.startsWith(`${gone}/`)) tree.delete(p);
          entry.resume();
          continue;
        }
        const mode = (entry.header.mode ?? 0) & 0o7777;
        if (entry.header.type === 'directory') tree.set(name, { type: 'dir', mode });
        else if (entry.header.type === 'symlink') tree.set(name, { type: 'symlink', mode: 0o777, target: entry.header.linkname ?? '' });
        else if (entry.header.type === 'file') {
          const hash = createHash('sha256');
          let size = 0;
          for await (const chunk of entry as AsyncIterable<Buffer>) {
            hash.update(chunk);
            size += chunk.length;
          }
          tree.set(name, { type: 'file', mode, size, sha256: `sha256:${hash.digest('hex')}` });
        } else entry.resume();
      }
    })();
    const source = Readable.from([bytes]);
    await Promise.all([
      layer.mediaType.endsWith('+gzip') ? pipeline(source, createGunzip(), tar) : pipeline(source, tar),
      reading,
    ]);
  }
  return Object.fromEntries([...tree].filter(([p]) => p === under || p.startsWith(`${under}/`)).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** What the image's /model must hold for a request: its files (modes, sizes, contents, links) and the contract. */
export function expectedModelTree(req: BuildRequest): Record<string, FsEntry> {
  const out: Record<string, FsEntry> = {};
  const dir = (p: string) => {
    for (let at = p; at && at !== '.'; at = path.posix.dirname(at)) out[at] ??= { type: 'dir', mode: 0o755 };
  };
  dir('model/files');
  for (const e of (req.tree as TreeManifest).entries) {
    const p = `model/files/${e.path}`;
    dir(path.posix.dirname(p));
    out[p] = e.type === 'file'
      ? { type: 'file', mode: e.mode & 0o111 ? 0o755 : 0o644, size: e.size, sha256: e.digest }
      : { type: 'symlink', mode: 0o777, target: e.target };
  }
  out['model/contract.protobin'] = { type: 'file', mode: 0o644, size: req.contract.protobin.length, sha256: req.contract.digest };
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/**
 * A runtime base with every setting a runtime may have (Env, Cmd, Entrypoint, WorkingDir,
 * ExposedPorts, labels), built by the test engine on the busybox stand-in and pushed to the shared
 * registry under a name of its own; `remove` deletes it.
 */
export async function startConformanceBase(): Promise<{ reference: string; remove(): Promise<void> }> {
  const registry = services.registry();
  const repository = `mll-test/${uniqueName('conformance-base')}`;
  const reference = `${registry}/${repository}:1`;
  const dockerfile = [
    `FROM ${services.baseImages().tensorflow}`,
    'ENV RUNTIME_HOME=/srv/runtime PYTHONUNBUFFERED=1',
    'WORKDIR /srv/runtime',
    'EXPOSE 9090/tcp 8080/tcp',
    'ENTRYPOINT ["/bin/sh", "-c"]',
    'CMD ["echo serving"]',
    'LABEL ai.mll.runtime="conformance" org.example.vendor="tests"',
  ].join('\n');
  docker(['build', '-q', '-t', reference, '-'], dockerfile);
  docker(['push', '-q', reference]);
  const digest = JSON.parse(docker(['inspect', '--format', '{{json .RepoDigests}}', reference]) as string) as string[];
  return {
    reference,
    async remove() {
      for (const d of digest) await deleteManifest(registry, repository, d.split('@')[1]!);
      try { docker(['rmi', '-f', reference]); } catch { /* gone */ }
    },
  };
}
