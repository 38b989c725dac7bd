import type { Logger } from '../../log.js';
import { RegistryClient, type Credentials } from './client.js';
import { isLoopbackRegistry } from './reference.js';
import type { RetryRules } from '../../shared/retry.js';

export interface RegistriesOptions {
  /** The configured registry (host[:port]) and what it needs. */
  primary?: { registry: string; insecure: boolean; credentials?: Credentials };
  /** Extra registries that speak plain HTTP (loopback ones always do). */
  insecure?: string[];
  credentialsHint?: string;
  retry?: Partial<RetryRules>;
  logger?: Logger;
  idleTimeoutMs?: number;
}

/**
 * One client per registry host, so tokens and the auth scheme are learned once. The configured
 * registry gets the configured credentials; any other registry (a runtime's) is spoken to
 * anonymously, over HTTPS unless it is a loopback address or listed as insecure.
 */
export class Registries {
  private readonly clients = new Map<string, RegistryClient>();

  constructor(private readonly options: RegistriesOptions = {}) {}

  client(registry: string): RegistryClient {
    let client = this.clients.get(registry);
    if (!client) {
      const primary = this.options.primary?.registry === registry ? this.options.primary : undefined;
      client = new RegistryClient({
        registry,
        insecure: primary?.insecure || isLoopbackRegistry(registry) || (this.options.insecure ?? []).includes(registry),
        credentials: primary?.credentials,
        credentialsHint: primary ? this.options.credentialsHint : undefined,
        retry: this.options.retry,
        logger: this.options.logger,
        idleTimeoutMs: this.options.idleTimeoutMs,
      });
      this.clients.set(registry, client);
    }
    return client;
  }
}
