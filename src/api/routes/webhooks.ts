import express, { Router } from 'express';
import { MllError } from '../../errors.js';
import type { ApiDeps } from '../deps.js';
import type { WebhookDeliveryBody, WebhookDeliveryListBody, WebhookEndpointBody, WebhookEndpointCreatedBody, WebhookEndpointListBody } from '../schemas/webhooks.js';

/**
 * Webhook endpoints and their deliveries. The secret is in the POST answer and nowhere else.
 */
export function webhooksRouter(deps: ApiDeps): Router {
  const router = Router();
  const json = express.json({ limit: '64kb' });
  const draining = () => {
    if (deps.draining?.value) throw new MllError('SHUTTING_DOWN', 'The service is shutting down; retry against another instance');
  };

  router.post('/webhooks', json, async (req, res) => {
    draining();
    if (!req.is('application/json')) throw new MllError('UNSUPPORTED_MEDIA_TYPE', 'Send the webhook as application/json');
    const created = await deps.webhooks.create(req.body);
    // The only answer that carries the secret: keep it out of caches.
    res.status(201).location(created.links.self).set('cache-control', 'no-store').json(created satisfies WebhookEndpointCreatedBody);
  });

  router.get('/webhooks', async (_req, res) => {
    res.json({ items: await deps.webhooks.list() } satisfies WebhookEndpointListBody);
  });

  router.get('/webhooks/:id', async (req, res) => {
    res.json((await deps.webhooks.get(req.params.id!)) satisfies WebhookEndpointBody);
  });

  router.delete('/webhooks/:id', async (req, res) => {
    await deps.webhooks.delete(req.params.id!);
    res.status(204).end();
  });

  router.get('/webhooks/:id/deliveries', async (req, res) => {
    const limit = Math.min(Math.max(Number(req.query.limit ?? 50) || 50, 1), 500);
    const before = typeof req.query.before === 'string' && /^\d+$/.test(req.query.before) ? Number(req.query.before) : undefined;
    const page = await deps.webhooks.deliveries(req.params.id!, { limit, before });
    const base = `${deps.config.baseUrl}/api/v1/webhooks/${req.params.id}/deliveries`;
    res.json({ items: page.items, next: page.nextBefore === null ? null : `${base}?limit=${limit}&before=${page.nextBefore}` } satisfies WebhookDeliveryListBody);
  });

  router.post('/webhooks/:id/deliveries/:deliveryId/redeliver', async (req, res) => {
    draining();
    res.status(202).json((await deps.webhooks.redeliver(req.params.id!, req.params.deliveryId!)) satisfies WebhookDeliveryBody);
  });

  return router;
}
