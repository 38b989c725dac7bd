import { pino, type Logger } from 'pino';

export type { Logger };

/** Secrets never reach the log: these paths are redacted wherever they appear. */
const redact = [
  'secret', '*.secret', 'token', '*.token', 'password', '*.password', 'authorization', '*.authorization',
  'headers.authorization', 'req.headers.authorization', 'req.headers.cookie', 'config.s3SecretKey',
  'config.registryPassword', 'config.pipIndexUrl', 'config.pipExtraIndexUrl',
];

export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { service: 'ml-lambda', ...base }, redact: { paths: redact, censor: '[redacted]' } });
}
