import { deepTier } from '../support/fuzz-tier.js';
import { contractFuzzSuites } from './fuzz-properties.js';

/** The contract readers' property tests with every case (the unit tier runs the first tenth). */
contractFuzzSuites(deepTier);
