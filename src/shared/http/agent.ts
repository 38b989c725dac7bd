import { isIP } from 'node:net';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import { assertAllowedAddress, type AddressPolicy } from './address-policy.js';
import { guardedLookup, type Resolver } from './lookup.js';

export interface AgentOptions {
  /** Time to open a connection (TCP and TLS). */
  connectTimeoutMs?: number;
  /** Time from the request being sent to the answer's headers. */
  headersTimeoutMs?: number;
  /** Longest pause between two chunks of an answer's body. */
  bodyTimeoutMs?: number;
  /** How long an idle kept-alive connection is kept. */
  keepAliveTimeoutMs?: number;
  /** Connections per origin. */
  connections?: number;
  /**
   * Connect only to addresses this policy allows (SSRF): every address a host name resolves to is
   * checked when connecting (so DNS rebinding fails), and IP literals before connecting.
   */
  addressPolicy?: AddressPolicy;
  /** The DNS resolver behind the policy check (tests give a rebinding one). */
  resolve?: Resolver;
}

/**
 * The one factory of outbound HTTP connection pools (undici Agents): timeouts, keep-alive and,
 * as an option, the address policy. Every outbound HTTP client of ML Lambda (registry, webhooks,
 * CLI) sends through an Agent made here; undici's `request` answers an early reply (a 401 or 413
 * sent before the request body was read) as that reply, and stops sending the body.
 */
export function createAgent(options: AgentOptions = {}): Dispatcher {
  const connectTimeout = options.connectTimeoutMs ?? 10_000;
  const policy = options.addressPolicy;
  const base = buildConnector({
    timeout: connectTimeout,
    ...(policy ? { lookup: guardedLookup(policy, options.resolve) } : {}),
  } as buildConnector.BuildOptions);
  const connect: buildConnector.connector = policy
    ? (opts, callback) => {
      // Sockets skip `lookup` for IP literals, so those are checked here.
      const host = opts.hostname.replace(/^\[|\]$/g, '');
      if (isIP(host)) {
        try {
          assertAllowedAddress(host, host, policy);
        } catch (err) {
          callback(err as Error, null);
          return;
        }
      }
      base(opts, callback);
    }
    : base;
  return new Agent({
    connect,
    headersTimeout: options.headersTimeoutMs ?? 60_000,
    bodyTimeout: options.bodyTimeoutMs ?? 60_000,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 4_000,
    connections: options.connections ?? 32,
  });
}
