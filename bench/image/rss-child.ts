/** Child of bench/image/run.ts: builds and pushes one payload, prints its peak RSS. Args: storeRoot treeJson registry runtime scratch */
import fs from 'node:fs/promises';
import { createHash } from 'node:crypto';
import type { TreeManifest } from '../../src/domain/tree.js';
import { OciImageBuilder } from '../../src/image/oci/builder.js';
import { Registries } from '../../src/image/registry/registries.js';
import { RegistryTarget } from '../../src/image/registry/target.js';
import { createLogger } from '../../src/log.js';
import { FsObjectStore } from '../../src/storage/fs-store.js';

const [storeRoot, treeFile, registry, runtime, scratch] = process.argv.slice(2) as [string, string, string, string, string];
const logger = createLogger('warn');
const store = new FsObjectStore({ root: storeRoot });
const registries = new Registries({ logger });
const tree = JSON.parse(await fs.readFile(treeFile, 'utf8')) as TreeManifest;
const builder = new OciImageBuilder({ store, logger, registries, runtimes: { python: runtime }, compression: 'none', scratchDir: scratch });
const target = new RegistryTarget({ store, logger, registries, registry });
const protobin = Buffer.from('rss contract');
const ctx = { signal: new AbortController().signal, log: () => undefined, logger };
const t0 = performance.now();
const image = await builder.build({
  model: 'bench-rss', version: 1, modelType: 'python:3.11', framework: 'python', tree,
  contract: { protobin, digest: `sha256:${createHash('sha256').update(protobin).digest('hex')}` },
}, ctx);
await target.publish(image, { repository: 'bench-rss', tag: '1' }, ctx);
const seconds = (performance.now() - t0) / 1000;
process.stdout.write(JSON.stringify({ maxRssKb: process.resourceUsage().maxRSS, seconds }));
