import { deepTier } from '../support/fuzz-tier.js';
import { archiveFuzzTests } from './fuzz-properties.js';

/** The archive reader's property tests with every case (the unit tier runs the first tenth). */
archiveFuzzTests(deepTier);
