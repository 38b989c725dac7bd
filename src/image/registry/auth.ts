import { MllError } from '../../errors.js';
import type { HttpResponse } from '../../shared/http/index.js';
import { effectiveDomain, parseChallenges, type Challenge } from './challenges.js';

export interface Credentials {
  username: string;
  password: string;
}

export type Scheme = { kind: 'none' } | { kind: 'basic'; realm?: string } | { kind: 'bearer'; realm: string; service?: string };

export interface AuthOptions {
  /** host[:port] */
  registry: string;
  baseUrl: URL;
  insecure: boolean;
  credentials?: Credentials;
  /** Appended to auth errors: where the user sets the credentials. */
  credentialsHint?: string;
  /** One unauthenticated exchange (discovery, token requests). */
  exchange(req: { method: string; url: URL; headers: Record<string, string>; signal?: AbortSignal }): Promise<HttpResponse>;
  /** Turns an unexpected answer into the error users see. */
  failure(res: HttpResponse, action: string): Promise<MllError>;
}

const MAX_TOKEN_BYTES = 4 * 1024 * 1024;

/**
 * Registry auth as the registry's `WWW-Authenticate` challenge asks: anonymous, basic, or bearer
 * tokens from its token service (exchanged per set of scopes and cached until shortly before they
 * expire). Credentials go only over HTTPS (or to an insecure registry) and only to a token service
 * of the registry's own domain.
 */
export class RegistryAuth {
  private scheme: Promise<Scheme> | undefined;
  private readonly tokens = new Map<string, { value: string; expiresAt: number }>();

  constructor(private readonly o: AuthOptions) {}

  get credentials(): Credentials | undefined {
    return this.o.credentials;
  }

  /** The scheme the registry asks for, learned once from `GET /v2/`. */
  discover(signal?: AbortSignal): Promise<Scheme> {
    this.scheme ??= (async () => {
      const res = await this.o.exchange({ method: 'GET', url: new URL('/v2/', this.o.baseUrl), headers: {}, signal });
      if (res.status === 200) {
        await res.drain();
        return { kind: 'none' } as Scheme;
      }
      if (res.status === 401) {
        await res.drain();
        return this.schemeFrom(parseChallenges(res.header('www-authenticate')));
      }
      throw await this.o.failure(res, 'Checking the registry API');
    })();
    this.scheme.catch(() => { this.scheme = undefined; });
    return this.scheme;
  }

  /** Remembers the scheme a later challenge asked for. */
  learn(scheme: Scheme): void {
    this.scheme = Promise.resolve(scheme);
  }

  schemeFrom(challenges: Challenge[]): Scheme {
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
    if (bearer) return { kind: 'bearer', realm: bearer.params.realm!, service: bearer.params.service };
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (basic) return { kind: 'basic', realm: basic.params.realm };
    throw new MllError('REGISTRY_AUTH_FAILED',
      `The registry ${this.o.registry} asks for an authentication scheme ML Lambda does not speak (${challenges.map((c) => c.scheme).join(', ') || 'none given'})`);
  }

  /** The Authorization header for these scopes (a cached token unless `refresh`), if the scheme needs one. */
  async authorization(scheme: Scheme, scopes: string[], refresh: boolean, signal?: AbortSignal): Promise<string | undefined> {
    if (scheme.kind === 'none') return undefined;
    if (scheme.kind === 'basic') return this.basicHeader();
    const key = [...new Set(scopes)].sort().join(' ');
    const cached = this.tokens.get(key);
    if (!refresh && cached && cached.expiresAt > Date.now() + 5000) return `Bearer ${cached.value}`;
    const token = await this.fetchToken(scheme, [...new Set(scopes)], signal);
    this.tokens.set(key, token);
    return `Bearer ${token.value}`;
  }

  needCredentials(): MllError {
    return new MllError('REGISTRY_AUTH_FAILED',
      `The registry ${this.o.registry} requires authentication and no credentials are configured${this.hint()}`,
      { details: { registry: this.o.registry } });
  }

  /** The credentials were refused (or, without any, the registry wants some). */
  refused(status: number): MllError {
    if (!this.o.credentials) return this.needCredentials();
    return new MllError('REGISTRY_AUTH_FAILED',
      `The registry ${this.o.registry} refused the credentials of user "${this.o.credentials.username}"${this.hint()}`,
      { details: { registry: this.o.registry, status } });
  }

  hint(): string {
    return this.o.credentialsHint ? `: ${this.o.credentialsHint}` : '';
  }

  private basicHeader(): string | undefined {
    const c = this.o.credentials;
    return c ? `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` : undefined;
  }

  private async fetchToken(scheme: Extract<Scheme, { kind: 'bearer' }>, scopes: string[], signal?: AbortSignal) {
    const registry = this.o.registry;
    let realm: URL;
    try {
      realm = new URL(scheme.realm);
    } catch {
      throw new MllError('REGISTRY_AUTH_FAILED', `The registry ${registry} names an invalid token service "${scheme.realm}"`);
    }
    if (realm.protocol !== 'https:' && !(realm.protocol === 'http:' && this.o.insecure)) {
      throw new MllError('REGISTRY_AUTH_FAILED',
        `The registry ${registry} sends its token service at ${realm.origin}; ML Lambda only sends credentials there over HTTPS`);
    }
    if (scheme.service) realm.searchParams.set('service', scheme.service);
    for (const scope of scopes) realm.searchParams.append('scope', scope);
    // Credentials go only to a token service of the registry's own domain.
    const sendCredentials = effectiveDomain(realm.host) === effectiveDomain(registry);
    const headers: Record<string, string> = {};
    const basic = sendCredentials ? this.basicHeader() : undefined;
    if (basic) headers.authorization = basic;
    const res = await this.o.exchange({ method: 'GET', url: realm, headers, signal });
    if (res.status === 401 || res.status === 403) {
      await res.drain();
      if (!basic && this.o.credentials) {
        throw new MllError('REGISTRY_AUTH_FAILED',
          `The registry ${registry} sends clients to the token service ${realm.host}, outside its own domain; ML Lambda does not send the credentials there`,
          { details: { registry, realm: realm.origin } });
      }
      if (!basic) throw this.needCredentials();
      throw new MllError('REGISTRY_AUTH_FAILED',
        `The token service of registry ${registry} refused the credentials of user "${this.o.credentials!.username}"${this.hint()}`,
        { details: { registry, status: res.status } });
    }
    if (res.status !== 200) throw await this.o.failure(res, 'Getting a registry token');
    const body = JSON.parse(await res.text(MAX_TOKEN_BYTES)) as { token?: string; access_token?: string; expires_in?: number };
    const value = body.token ?? body.access_token;
    if (!value) throw new MllError('REGISTRY_AUTH_FAILED', `The token service of registry ${registry} answered without a token`);
    return { value, expiresAt: Date.now() + (body.expires_in ?? 60) * 1000 };
  }
}
