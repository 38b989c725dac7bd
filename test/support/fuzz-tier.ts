/**
 * How many runs a property test makes in each tier. The unit tier (`npm run test:unit`) runs the
 * first tenth of each property's cases, so it stays fast; the deep tier (the `*-deep.test.ts`
 * files, run by the whole suite) runs all of them. Same seed in both: fast-check draws the cases
 * in order from the seed, so the unit tier's cases are the first ones of the deep tier's.
 */
export interface FuzzTier {
  /** Added to suite names so the two tiers' results can be told apart. */
  label: string;
  /** The number of runs for a property whose full count is `full`. */
  runs(full: number): number;
}

export const unitTier: FuzzTier = { label: '', runs: (full) => Math.max(3, Math.ceil(full / 10)) };
export const deepTier: FuzzTier = { label: ' (deep)', runs: (full) => full };
