import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Self time per function and per source file from V8 .cpuprofile files (node --cpu-prof). */

interface ProfileNode {
  id: number;
  children?: number[];
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const short = (url: string) => url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, 'node_modules/').replace(`${repoRoot}/`, '').replace(/^dist\//, '');

export async function summarizeProfiles(dir: string, top = 20): Promise<string> {
  const files = (await fs.readdir(dir).catch(() => [])).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) return `(no .cpuprofile in ${dir})`;
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  // Each sample charged to the innermost frame of the project's own code on its stack: where
  // time goes, library and native calls included.
  const byOwnCode = new Map<string, number>();
  // Sources run through tsx, or compiled into dist/.
  const own = new RegExp(`^file://${repoRoot.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/(dist/)?(src|workers|queues)/`);
  let total = 0;
  let wall = 0;
  const perFile: string[] = [];
  for (const f of files) {
    const profile = JSON.parse(await fs.readFile(path.join(dir, f), 'utf8')) as CpuProfile;
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    // Outside the project's code (callbacks of libraries and of Node itself), the innermost
    // package on the stack says whose work it is.
    const ownFrame = (id: number): string => {
      let pkg: string | undefined;
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const f = nodes.get(at)!.callFrame;
        if (own.test(f.url)) return `${f.functionName || '(anonymous)'} ${short(f.url)}:${f.lineNumber + 1}`;
        pkg ??= /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f.url)?.[1];
      }
      return pkg ? `(outside project code: ${pkg})` : `(outside project code: ${nodes.get(id)!.callFrame.functionName || 'native'})`;
    };
    const fileWall = (profile.endTime - profile.startTime) / 1000;
    wall += fileWall;
    let busy = 0;
    profile.samples.forEach((id, i) => {
      const us = profile.timeDeltas[i] ?? 0;
      const frame = nodes.get(id)!.callFrame;
      // Idle time is not work: left out of the shares, reported per thread instead.
      if (frame.functionName === '(idle)') return;
      busy += us;
      const fn = `${frame.functionName || '(anonymous)'} ${short(frame.url)}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
      const file = frame.url ? short(frame.url) : `(${frame.functionName || 'native'})`;
      byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
      byFile.set(file, (byFile.get(file) ?? 0) + us);
      const mine = ownFrame(id);
      byOwnCode.set(mine, (byOwnCode.get(mine) ?? 0) + us);
      total += us;
    });
    perFile.push(`  ${f}: ${(fileWall / 1000).toFixed(1)} s wall, busy ${(busy / 1e6).toFixed(1)} s (${((100 * busy) / 1000 / fileWall).toFixed(0)}%)`);
  }
  const fmt = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([k, us]) => `  ${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`).join('\n');
  return `profiles (one per thread):\n${perFile.join('\n')}\nbusy ${(total / 1e6).toFixed(1)} s of ${(wall / 1000).toFixed(1)} s wall\n\nby function (share of busy time):\n${fmt(byFunction)}\n\nby file:\n${fmt(byFile)}\n\nby innermost project function (callees included):\n${fmt(byOwnCode)}`;
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  console.log(await summarizeProfiles(process.argv[2] ?? '.', Number(process.argv[3] ?? 30)));
}
