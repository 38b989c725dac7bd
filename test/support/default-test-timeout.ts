// Preloaded into every test process by scripts/run-tests.sh (node --import): gives each test
// (`it`/`test`, not whole suites) a default timeout of MLL_TEST_TIMEOUT_MS, so a test waiting on a
// hung service fails instead of stalling the run. Node 20's --test-timeout cannot do this: with
// one process per file it times each file as a whole. A test that sets its own timeout keeps it.
import { createRequire, syncBuiltinESMExports } from 'node:module';

type TestFn = (...args: unknown[]) => unknown;

const require = createRequire(import.meta.url);
const nodeTest = require('node:test') as Record<'it' | 'test', TestFn>;
const timeout = Number(process.env.MLL_TEST_TIMEOUT_MS ?? 240_000);

function withDefaultTimeout(fn: TestFn): TestFn {
  const wrapped = (name?: unknown, options?: unknown, body?: unknown): unknown => {
    if (typeof name === 'function') return fn({ timeout }, name);
    if (typeof options === 'function') return fn(name, { timeout }, options);
    if (options && typeof options === 'object' && (options as { timeout?: number }).timeout === undefined) return fn(name, { ...options, timeout }, body);
    return fn(name, options, body);
  };
  for (const key of ['skip', 'todo', 'only'] as const) {
    const variant = (fn as unknown as Record<string, TestFn | undefined>)[key];
    if (typeof variant === 'function') (wrapped as unknown as Record<string, TestFn>)[key] = withDefaultTimeout(variant.bind(fn));
  }
  return wrapped;
}

nodeTest.it = withDefaultTimeout(nodeTest.it);
nodeTest.test = withDefaultTimeout(nodeTest.test);
syncBuiltinESMExports();
