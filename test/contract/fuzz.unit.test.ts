import { unitTier } from '../support/fuzz-tier.js';
import { contractFuzzSuites } from './fuzz-properties.js';

/** The contract readers' property tests, first tenth of the cases (fuzz-deep.test.ts runs all). */
contractFuzzSuites(unitTier);
