import clusterKeySlot from 'cluster-key-slot';
import { MllError } from '../errors.js';
import { placeholderSample, type KeySample, type SlotGroup } from '../catalog/redis-keys.js';

/** Two unrelated samples: a group that shares a slot for both does so by its tags, not by chance. */
const samples: KeySample[] = [
  { model: 'tokenizer', version: 3, batch: '0b6f8c1e-5d7a-4e2b-9c3d-2f1a0e9b8c7d', delivery: 'dlv_4f2a9c0e1b3d5a7c9e1f2a3b', job: 'tokenizer.v3.build' },
  { model: 'resnet-50_v2', version: 117, batch: 'f3e2d1c0-b9a8-4765-8432-10fedcba9876', delivery: 'dlv_0123456789abcdef01234567', job: 'resnet-50_v2.v117.extract' },
];

export const keySlot = (key: string): number => clusterKeySlot(key);

/**
 * Every group of keys that a script or transaction uses together must hash to one Redis Cluster
 * slot, or Redis answers CROSSSLOT at run time. This runs at start-up (in every Redis mode, so a
 * layout mistake shows on a laptop, not first in production) and names the keys that part ways.
 */
export function assertSlotSafe(groups: SlotGroup[]): void {
  const problems: string[] = [];
  for (const group of groups) {
    for (const sample of samples) {
      const keys = group.keys(sample);
      const slots = keys.map(keySlot);
      if (slots.every((s) => s === slots[0])) continue;
      const patterns = group.keys(placeholderSample);
      const bySlot = patterns.map((p, i) => `${p} (slot ${slots[i]})`);
      problems.push(`${group.name}: ${bySlot.join(', ')}`);
      break;
    }
  }
  if (problems.length > 0) {
    throw new MllError('INTERNAL', [
      'The Redis key layout would cross Redis Cluster slots (CROSSSLOT): keys used together by one script or transaction must share one {hash tag}.',
      ...problems.map((p) => `  ${p}`),
    ].join('\n'), { details: problems });
  }
}
