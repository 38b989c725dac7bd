import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { writeSdist, writeWheel, type WheelSpec } from './wheels.js';

/**
 * A PEP 503 "simple" package index over loopback, serving the wheels (and sdist stand-ins) of a temp
 * directory: `/simple/<project>/` lists a project's files with `#sha256=` fragments, `/files/<name>`
 * serves them. Optional basic auth; `stallFiles` holds file downloads open (for timeouts); every
 * request is counted, so a test can prove pip never asked.
 */
export interface PackageIndex {
  /** http://127.0.0.1:<port>/simple/ (with user:password@ when auth is on). */
  url: string;
  /** The same without credentials. */
  publicUrl: string;
  host: string;
  dir: string;
  requests: string[];
  addWheel(spec: WheelSpec): Promise<{ file: string; sha256: string; size: number }>;
  addSdist(name: string, version: string): Promise<string>;
  stallFiles: boolean;
  close(): Promise<void>;
}

const normalise = (name: string) => name.toLowerCase().replace(/[-_.]+/g, '-');

function projectOf(file: string): string {
  return normalise(file.replace(/\.(whl|tar\.gz|zip)$/, '').split('-')[0]!);
}

export async function startPackageIndex(opts: { auth?: { username: string; password: string } } = {}): Promise<PackageIndex> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mll-pypi-'));
  const requests: string[] = [];
  const stalled = new Set<http.ServerResponse>();
  const expected = opts.auth ? `Basic ${Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64')}` : undefined;

  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      requests.push(url.pathname);
      if (expected && req.headers.authorization !== expected) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="test-index"' }).end();
        return;
      }
      const all = (await fs.readdir(dir)).sort();
      const files = all.filter((f) => !f.endsWith('.metadata'));
      const simple = /^\/simple\/([^/]+)\/?$/.exec(url.pathname);
      if (url.pathname === '/simple/' || url.pathname === '/simple') {
        const projects = [...new Set(files.map(projectOf))];
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(`<!DOCTYPE html><html><body>${projects.map((p) => `<a href="/simple/${p}/">${p}</a>`).join('\n')}</body></html>`);
      } else if (simple) {
        const project = normalise(decodeURIComponent(simple[1]!));
        const mine = files.filter((f) => projectOf(f) === project);
        if (mine.length === 0) {
          res.writeHead(404).end('not found');
          return;
        }
        const links = await Promise.all(mine.map(async (f) => {
          const sha = createHash('sha256').update(await fs.readFile(path.join(dir, f))).digest('hex');
          // PEP 658/714: a wheel's METADATA is served on its own, so resolvers need not download the wheel.
          const meta = await fs.readFile(path.join(dir, `${f}.metadata`)).catch(() => undefined);
          const attrs = meta ? (() => {
            const h = `sha256=${createHash('sha256').update(meta).digest('hex')}`;
            return ` data-dist-info-metadata="${h}" data-core-metadata="${h}"`;
          })() : '';
          return `<a href="/files/${encodeURIComponent(f)}#sha256=${sha}"${attrs}>${f}</a>`;
        }));
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(`<!DOCTYPE html><html><body>\n${links.join('<br/>\n')}\n</body></html>`);
      } else if (url.pathname.startsWith('/files/')) {
        const name = decodeURIComponent(url.pathname.slice('/files/'.length));
        if (!all.includes(name)) {
          res.writeHead(404).end();
          return;
        }
        const full = path.join(dir, name);
        const { size } = await fs.stat(full);
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
        if (index.stallFiles) {
          stalled.add(res);
          // Never the whole body: a small file (a wheel's .metadata, a tiny wheel) would complete.
          res.write(Buffer.alloc(Math.min(size - 1, 1024)));
          return;
        }
        createReadStream(full).pipe(res);
      } else {
        res.writeHead(404).end();
      }
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const host = `127.0.0.1:${port}`;
  const userinfo = opts.auth ? `${encodeURIComponent(opts.auth.username)}:${encodeURIComponent(opts.auth.password)}@` : '';
  const index: PackageIndex = {
    url: `http://${userinfo}${host}/simple/`,
    publicUrl: `http://${host}/simple/`,
    host,
    dir,
    requests,
    stallFiles: false,
    addWheel: async (spec) => {
      const w = await writeWheel(dir, spec);
      await fs.writeFile(path.join(dir, `${w.file}.metadata`), w.metadata);
      return { file: w.file, sha256: w.sha256, size: w.size };
    },
    addSdist: (name, version) => writeSdist(dir, name, version),
    close: async () => {
      for (const res of stalled) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
  return index;
}
