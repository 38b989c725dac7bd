import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Lowers the CPU priority of the calling thread alone by `steps` nice levels (at most to 19). Linux
 * schedules threads apart and names the caller in /proc/thread-self; elsewhere (or when that is not
 * readable) nothing changes and the answer is false. Raising a nice value needs no privilege.
 */
export function lowerThisThreadPriority(steps: number): boolean {
  if (steps <= 0) return true;
  let tid: number;
  try {
    tid = Number(path.basename(fs.readlinkSync('/proc/thread-self')));
  } catch {
    return false;
  }
  if (!Number.isInteger(tid) || tid <= 0) return false;
  os.setPriority(tid, Math.min(19, os.getPriority(tid) + steps));
  return true;
}
