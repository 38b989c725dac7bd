import type { Request, Response } from 'express';
import { versionTopic } from '../../catalog/event-hub.js';
import type { VersionEvent } from '../../domain/version.js';
import { hydrosphereUpdatesTopic, lastModelUpdateId, readModelUpdates } from '../../hydrosphere/updates.js';
import type { ApiDeps } from '../deps.js';
import { serveSse, type SseEvent } from '../sse.js';
import { VersionStreamEnd } from '../version-stream-end.js';
import { presentModelVersion, v2Status, type HydrosphereVersion } from './present.js';
import type { HydrosphereVersions } from './versions.js';

/** One build log line per event of the version, as a user reads it. */
export function logLine(e: VersionEvent): string {
  if (e.type === 'created') return `version ${e.version} of ${e.model} created (${e.status ?? 'queued'})`;
  if (e.type === 'status') return e.status === 'failed' ? `failed: ${e.error?.message ?? 'unknown error'}` : `${e.stage ? `${e.stage}: ` : ''}${e.status ?? ''}`;
  if (e.type === 'warning') return `warning: ${e.message ?? ''}`;
  return e.message ?? '';
}

/** SSE `data:` lines: one per line of text, as the format wants for text with newlines. */
const dataLines = (text: string) => text.split(/\r\n|\r|\n/).map((l) => `data: ${l}\n`).join('');

/**
 * Hydrosphere's build logs: `event: Log`, `id: <n>` counting from 0, `data: <line>`, and once the
 * version is released or failed `event: EndOfStream` and the end of the response (the CLI reads
 * until the connection closes). `Last-Event-ID: n` resumes at line n+1.
 */
export async function serveBuildLogs(req: Request, res: Response, deps: ApiDeps, view: HydrosphereVersion): Promise<void> {
  const { catalog } = deps;
  const { model, version } = view.record;
  // Position in the version's event stream of line `index` (the last one sent or skipped).
  let streamId = '0';
  let index = -1;
  // Ends after the line of the terminal status, not merely once the record is terminal (VersionStreamEnd).
  const end = new VersionStreamEnd(catalog, model, version);
  const page = async () => {
    const events = await catalog.readEvents(model, version, streamId, 1000);
    return events.map((e) => {
      end.saw(e);
      streamId = e.id;
      index += 1;
      return { id: String(index), event: 'Log', data: logLine(e) };
    });
  };
  await serveSse(req, res, {
    read: async (after) => {
      const wanted = Number(after);
      // A resumed stream first skips the lines the client has.
      while (index < wanted) {
        const skipped = await page();
        if (skipped.length === 0) return [];
        const keep = skipped.filter((e) => Number(e.id) > wanted);
        if (keep.length > 0) return keep;
      }
      return page();
    },
    finished: () => end.finished(),
    endData: async () => null,
    subscribe: (wake) => deps.events.on(versionTopic(model, version), wake),
  }, {
    startId: '-1',
    frame: (e) => `event: ${e.event}\nid: ${e.id}\n${dataLines(String(e.data))}\n`,
    endFrame: () => 'event: EndOfStream\ndata:\n\n',
  });
}

/**
 * Hydrosphere's `GET /api/v2/events`: `event: ModelUpdate` with the ModelVersion as data, live from
 * the moment the client connects (the subscription exists before the headers go out, so a version
 * that finishes while the client looks it up is still announced). Never ends.
 */
export async function serveModelUpdates(req: Request, res: Response, deps: ApiDeps, versions: HydrosphereVersions): Promise<void> {
  const { redis, config, catalog } = deps;
  const startId = await lastModelUpdateId(redis, config.prefix);
  await serveSse(req, res, {
    read: async (after) => {
      const updates = await readModelUpdates(redis, config.prefix, after);
      const out: SseEvent[] = [];
      for (const u of updates) {
        const record = await catalog.get(u.model, u.version).catch(() => null);
        // Versions no Hydrosphere client has ever seen are not announced (and get no id for it).
        const view = record ? await versions.known(record) : null;
        out.push({ id: u.id, event: 'ModelUpdate', data: view ? { ...presentModelVersion(view), status: v2Status(u.status) } : null });
      }
      return out;
    },
    finished: async () => false,
    endData: async () => null,
    subscribe: (wake) => deps.events.on(hydrosphereUpdatesTopic, wake),
  }, {
    startId,
    frame: (e) => (e.data === null ? `: ${e.id}\n\n` : `event: ${e.event}\nid: ${e.id}\ndata: ${JSON.stringify(e.data)}\n\n`),
  });
}
