import { EventEmitter } from 'node:events';
import type { Logger } from '../log.js';
import type { RedisClient } from '../redis/connect.js';

export interface EventNotice {
  /** What the notice is about, e.g. `version:<model>:<n>` or `batch:<id>`. */
  topic: string;
  id: string;
}

/**
 * One Redis subscription per process, fanned out to local listeners by topic. Producers XADD to
 * a stream and PUBLISH a small notice; readers then read the stream from their last id, so a
 * missed notice costs nothing but latency (readers also poll on their heartbeat).
 */
export class EventHub {
  private readonly emitter = new EventEmitter();
  private started: Promise<void> | undefined;

  constructor(
    private readonly subscriber: RedisClient,
    private readonly channels: string[],
    private readonly toTopic: (channel: string, message: string) => EventNotice | undefined,
    private readonly logger: Logger,
  ) {
    this.emitter.setMaxListeners(0);
  }

  start(): Promise<void> {
    this.started ??= (async () => {
      this.subscriber.on('message', (channel: string, message: string) => {
        const notice = this.toTopic(channel, message);
        if (notice) this.emitter.emit(notice.topic, notice);
      });
      await this.subscriber.subscribe(...this.channels);
    })().catch((err: unknown) => {
      this.started = undefined;
      this.logger.warn({ err }, 'event subscription failed; live updates fall back to polling');
    });
    return this.started;
  }

  on(topic: string, listener: (notice: EventNotice) => void): () => void {
    void this.start();
    this.emitter.on(topic, listener);
    return () => this.emitter.off(topic, listener);
  }

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
    this.subscriber.disconnect();
  }
}

export const versionTopic = (model: string, version: number) => `version:${model}:${version}`;
