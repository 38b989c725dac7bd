/**
 * A throwaway ML Lambda with demo data, for looking at the web interface by hand:
 *   node --import tsx test/web/serve.ts        (Ctrl+C stops it and removes everything)
 * Not a test: it keeps running until interrupted.
 */
import { startTestApp } from '../support/app.js';
import { uniqueName } from '../support/unique.js';
import { seed } from './support/seed.js';

const app = await startTestApp({ env: { MLL_WEBHOOK_ALLOW_PRIVATE: 'true', ...(process.env.MLL_PORT ? { MLL_PORT: process.env.MLL_PORT } : {}) } });
const seeded = await seed(app.url, uniqueName('d').slice(2));
process.stdout.write(`ML Lambda web interface: ${app.url}/\n${JSON.stringify(seeded)}\n`);

const stop = () => {
  app.stop().then(() => process.exit(0), () => process.exit(1));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
