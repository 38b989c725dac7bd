import { unitTier } from '../support/fuzz-tier.js';
import { archiveFuzzTests } from './fuzz-properties.js';

/** The archive reader's property tests, first tenth of the cases (fuzz-deep.test.ts runs all). */
archiveFuzzTests(unitTier);
