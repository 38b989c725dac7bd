// Only the stage workers (extract, build, push).
import { main } from './run.js';

main({ api: false, workers: true });
