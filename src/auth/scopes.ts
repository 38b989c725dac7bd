/**
 * Which scope each route needs. One rule for the whole API, so no route can be forgotten:
 * public routes are listed; /admin and /tokens need admin; reads need read; everything else
 * (uploads, batches, webhooks) needs write. admin includes write, which includes read.
 */
export const scopes = ['read', 'write', 'admin'] as const;
export type Scope = (typeof scopes)[number];

const rank: Record<Scope, number> = { read: 0, write: 1, admin: 2 };

export function grants(held: readonly Scope[], needed: Scope): boolean {
  return held.some((s) => rank[s] >= rank[needed]);
}

const publicRoutes: { method: RegExp; path: RegExp }[] = [
  { method: /^(GET|HEAD)$/, path: /^\/(healthz|readyz)$/ },
  { method: /^(GET|HEAD)$/, path: /^\/api\/v1\/openapi\.json$/ },
  // Presigned store URLs carry their own signature.
  { method: /^(GET|HEAD|PUT)$/, path: /^\/api\/v1\/store\// },
];

/** The scope a request needs, or null for a public route. `path` is the request path (or an OpenAPI path). */
export function requiredScope(method: string, path: string): Scope | null {
  const m = method.toUpperCase();
  if (publicRoutes.some((r) => r.method.test(m) && r.path.test(path))) return null;
  if (/^\/api\/v1\/(admin|tokens)(\/|$)/.test(path)) return 'admin';
  return m === 'GET' || m === 'HEAD' ? 'read' : 'write';
}
