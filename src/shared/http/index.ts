/**
 * The one outbound HTTP layer (undici): an Agent factory with timeouts, keep-alive and the
 * optional address policy (SSRF), and `send` for one exchange with streamed bodies, abort signals
 * and early answers. Retries are decided by src/shared/retry.ts.
 */
export { createAgent, type AgentOptions } from './agent.js';
export { send, BodyStreamError, type HttpRequest, type HttpResponse } from './send.js';
export { guardedLookup, type Resolver } from './lookup.js';
export { assertAllowedAddress, blockedReason, TargetBlockedError, type AddressPolicy } from './address-policy.js';
export { describeNetworkError, networkReason } from './network-errors.js';
