import { z } from 'zod';
import { scopes } from '../../auth/scopes.js';
import { timestamp } from './common.js';
import { requestBody, responseBody } from './registry.js';

export const tokenRequest = requestBody('TokenRequest', z.strictObject({
  name: z.string().min(1).max(100),
  scopes: z.array(z.enum(scopes)).min(1),
  expiresInDays: z.number().int().min(1).max(3650).optional(),
}));

export const token = responseBody('Token', z.object({
  id: z.string(),
  name: z.string(),
  scopes: z.array(z.enum(scopes)),
  createdAt: timestamp,
  expiresAt: timestamp.nullable(),
  revokedAt: timestamp.nullable(),
}), 'An API token as it is listed: never the token itself');
export type TokenBody = z.output<typeof token>;

export const tokenCreated = responseBody('TokenCreated', token.extend({ token: z.string().describe('The token: shown in this answer only') }));
export type TokenCreatedBody = z.output<typeof tokenCreated>;

export const tokenList = responseBody('TokenList', z.object({ items: z.array(token) }));
export type TokenListBody = z.output<typeof tokenList>;
