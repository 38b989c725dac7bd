// `npm start`: the API and every stage worker in one process, on the embedded defaults.
import './heap-growth.js';
import { main } from './run.js';

main({ api: true, workers: true });
