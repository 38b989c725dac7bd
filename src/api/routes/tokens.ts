import { Router } from 'express';
import { z } from 'zod';
import { scopes } from '../../auth/scopes.js';
import type { Tokens } from '../../auth/tokens.js';
import { MllError } from '../../errors.js';
import type { ApiDeps } from '../deps.js';
import { principalOf } from '../auth.js';

const createToken = z.strictObject({
  name: z.string().min(1).max(100),
  scopes: z.array(z.enum(scopes)).min(1),
  expiresInDays: z.number().int().min(1).max(3650).optional(),
});

/** API tokens (admin scope). The token itself is in the creation answer only; only its hash is kept. */
export function tokensRouter(deps: ApiDeps, tokens: Tokens): Router {
  const router = Router();
  router.post('/tokens', async (req, res) => {
    const parsed = createToken.safeParse(req.body);
    if (!parsed.success) {
      throw new MllError('BAD_REQUEST', `Invalid token request: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')}`);
    }
    const { name, scopes: wanted, expiresInDays } = parsed.data;
    const created = await tokens.create({
      name, scopes: wanted, expiresAt: expiresInDays ? new Date(Date.now() + expiresInDays * 86_400_000).toISOString() : null,
    });
    deps.logger.info({ token: created.info.id, name, scopes: created.info.scopes, by: principalOf(res)?.id }, 'API token created');
    res.status(201).setHeader('Cache-Control', 'no-store').json({ ...created.info, token: created.token });
  });
  router.get('/tokens', async (_req, res) => {
    res.json({ items: await tokens.list() });
  });
  router.delete('/tokens/:id', async (req, res) => {
    const info = await tokens.revoke(req.params.id!);
    deps.logger.info({ token: info.id, by: principalOf(res)?.id }, 'API token revoked');
    res.json(info);
  });
  return router;
}
