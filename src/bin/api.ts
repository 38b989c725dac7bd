// Only the HTTP API (scale it apart from the workers).
import { main } from './run.js';

main({ api: true, workers: false });
