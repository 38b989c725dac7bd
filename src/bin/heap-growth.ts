// Imported first by the all-in-one entry, before any other module loads: set later, the flag
// barely helps (RSS 295-298 MB instead of 230-238 MB in the runs below).
import v8 from 'node:v8';

/**
 * The API and the workers' thread are two V8 isolates, and each lets its heap grow to up to four
 * times what it kept at its last full collection before collecting again. bench/batch, 1,000 tiny
 * models, three runs each: peak RSS 363-367 MB by default, 235-236 MB with a 20% allowance (one
 * thread, default growth: 209-215 MB), at the same CPU per version and p99 GET. A value given on
 * node's command line wins.
 */
if (!process.execArgv.some((arg) => /^--heap[-_]growing[-_]percent/.test(arg))) {
  v8.setFlagsFromString('--heap-growing-percent=20');
}
