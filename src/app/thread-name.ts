import fs from 'node:fs';

/**
 * Names the calling thread as `ps -L`, `top -H` and /proc/<pid>/task/<tid>/comm show it (Linux
 * keeps 15 bytes). Every Node.js thread is otherwise called "node", so the workers' thread could
 * not be told from the API's when one burns CPU. Elsewhere nothing changes and the answer is false.
 */
export function nameThisThread(name: string): boolean {
  try {
    fs.writeFileSync('/proc/thread-self/comm', name.slice(0, 15));
    return true;
  } catch {
    return false;
  }
}
