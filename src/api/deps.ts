import type { ThreadMetrics } from '../app/workers-thread-messages.js';
import type { Services } from '../app/services.js';

/**
 * What the HTTP API is built from: the process's services (minus BullMQ's own connection and
 * the process lifecycle). createApp never listens; the caller does.
 */
export type ApiDeps = Omit<Services, 'queueRedis' | 'close'> & {
  /** Set while the process shuts down: creating routes answer 503. */
  draining?: { value: boolean };
  /** Instruments of the process kept elsewhere (the workers' thread), served with the API's at /metrics. */
  moreMetrics?: () => Promise<ThreadMetrics>;
};
