import { redisKeys } from '../catalog/redis-keys.js';
import type { Services } from './services.js';

/**
 * With token auth on, a deployment must never be unreachable nor open: on the first start (no
 * token exists) an admin token is created and printed once on stderr — not logged. With
 * MLL_BOOTSTRAP_TOKEN the operator chooses it instead (and regains access if all are lost).
 */
export async function ensureAdminToken(services: Services, print: (text: string) => void = (t) => process.stderr.write(t)): Promise<void> {
  const { config, tokens, redis } = services;
  if (config.auth !== 'tokens') return;
  if (config.bootstrapToken) {
    if (!(await tokens.exists(config.bootstrapToken))) {
      await tokens.create({ name: 'bootstrap (MLL_BOOTSTRAP_TOKEN)', scopes: ['admin'], token: config.bootstrapToken });
      services.logger.info('created the admin token given in MLL_BOOTSTRAP_TOKEN');
    }
    return;
  }
  if (await tokens.hasAny()) return;
  // Several API processes may start at once: only one creates (and prints) the first token.
  if ((await redis.set(redisKeys(config.prefix).bootstrapToken(), String(process.pid), 'EX', 3600, 'NX')) !== 'OK') return;
  const { token, info } = await tokens.create({ name: 'first admin', scopes: ['admin'] });
  services.logger.info({ token: info.id }, 'no API token existed: created the first admin token (printed once on stderr)');
  print([
    '',
    'ML Lambda: no API token existed, so this admin token was created. It is shown only this once:',
    '',
    `    ${token}`,
    '',
    'Send it as "Authorization: Bearer <token>" (the CLI reads MLL_TOKEN); create narrower tokens with',
    '`mll tokens create --name ci --scope write`. Lost it? Restart with MLL_BOOTSTRAP_TOKEN=<a token of your own>.',
    '',
  ].join('\n') + '\n');
}
