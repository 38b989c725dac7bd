import { Router } from 'express';
import type { Tokens } from '../../auth/tokens.js';
import { MllError } from '../../errors.js';
import type { ApiDeps } from '../deps.js';
import { principalOf } from '../auth.js';
import { tokenRequest, type TokenBody, type TokenCreatedBody, type TokenListBody } from '../schemas/tokens.js';

/** API tokens (admin scope). The token itself is in the creation answer only; only its hash is kept. */
export function tokensRouter(deps: ApiDeps, tokens: Tokens): Router {
  const router = Router();
  router.post('/tokens', async (req, res) => {
    const parsed = tokenRequest.safeParse(req.body);
    if (!parsed.success) {
      throw new MllError('BAD_REQUEST', `Invalid token request: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')}`);
    }
    const { name, scopes: wanted, expiresInDays } = parsed.data;
    const created = await tokens.create({
      name, scopes: wanted, expiresAt: expiresInDays ? new Date(Date.now() + expiresInDays * 86_400_000).toISOString() : null,
    });
    deps.logger.info({ token: created.info.id, name, scopes: created.info.scopes, by: principalOf(res)?.id }, 'API token created');
    res.status(201).setHeader('Cache-Control', 'no-store').json({ ...created.info, token: created.token } satisfies TokenCreatedBody);
  });
  router.get('/tokens', async (_req, res) => {
    res.json({ items: await tokens.list() } satisfies TokenListBody);
  });
  router.delete('/tokens/:id', async (req, res) => {
    const info = await tokens.revoke(req.params.id!);
    deps.logger.info({ token: info.id, by: principalOf(res)?.id }, 'API token revoked');
    res.json(info satisfies TokenBody);
  });
  return router;
}
