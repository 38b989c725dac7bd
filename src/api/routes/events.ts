import { Router } from 'express';
import { versionTopic } from '../../catalog/event-hub.js';
import { assertModelName, parseVersionNumber } from '../../domain/model-name.js';
import { terminalStatuses } from '../../domain/version.js';
import type { ApiDeps } from '../deps.js';
import type { VersionEventsBody } from '../schemas/versions.js';
import { serveSse } from '../sse.js';
import { VersionStreamEnd } from '../version-stream-end.js';

/**
 * A version's events: every stage transition and build log line. `Accept: text/event-stream`
 * streams them live (resumable with Last-Event-ID, heartbeats, an `end` event once terminal);
 * otherwise the same events as JSON after `?after=<id>`.
 */
export function eventsRouter(deps: ApiDeps): Router {
  const router = Router();
  const { catalog } = deps;

  router.get('/models/:name/versions/:version/events', async (req, res) => {
    const model = assertModelName(req.params.name!);
    const version = parseVersionNumber(req.params.version!);
    const record = await catalog.get(model, version);
    if (req.accepts(['application/json', 'text/event-stream']) === 'text/event-stream') {
      const end = new VersionStreamEnd(catalog, model, version);
      await serveSse(req, res, {
        read: async (after) => (await catalog.readEvents(model, version, after)).map((e) => {
          end.saw(e);
          return { id: e.id, event: e.type, data: e };
        }),
        finished: () => end.finished(),
        endData: async () => {
          const r = await catalog.get(model, version);
          return { status: r.status, error: r.error, image: r.image };
        },
        subscribe: (wake) => deps.events.on(versionTopic(model, version), wake),
      });
      return;
    }
    const after = typeof req.query.after === 'string' ? req.query.after : undefined;
    const limit = Math.min(Math.max(Number(req.query.limit ?? 1000) || 1000, 1), 5000);
    const events = await catalog.readEvents(model, version, after, limit);
    res.json({ items: events, status: record.status, terminal: terminalStatuses.has(record.status), last: events.at(-1)?.id ?? after ?? null } satisfies VersionEventsBody);
  });

  return router;
}
