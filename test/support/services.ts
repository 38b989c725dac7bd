/**
 * Where the real services the tests talk to live. `npm test` (scripts/test.sh) starts them with
 * scripts/services/*.sh and exports these variables; a test run without them fails with a hint.
 */
function need(name: string, hint: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: start the services first (${hint}), or run the whole suite with \`npm test\``);
  }
  return value;
}

const s3Hint = 'eval "$(bash scripts/services/s3.sh start)"';
const dockerHint = 'eval "$(bash scripts/services/docker.sh start)"';

export const services = {
  redisUrl: () => process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  s3: () => ({
    endpoint: need('S3_ENDPOINT', s3Hint),
    accessKey: need('S3_ACCESS_KEY', s3Hint),
    secretKey: need('S3_SECRET_KEY', s3Hint),
    region: process.env.S3_REGION ?? 'us-east-1',
  }),
  dockerHost: () => need('DOCKER_HOST', dockerHint),
  /** The shared Redis Cluster (3 masters + 3 replicas), as a redis+cluster:// URL. */
  redisCluster: () => need('MLL_TEST_REDIS_CLUSTER', 'eval "$(bash scripts/services/redis-cluster.sh start cluster)"'),
  registry: () => need('MLL_TEST_REGISTRY', dockerHint),
  registryAuth: () => ({
    host: need('MLL_TEST_REGISTRY_AUTH', dockerHint),
    username: need('MLL_TEST_REGISTRY_USER', dockerHint),
    password: need('MLL_TEST_REGISTRY_PASSWORD', dockerHint),
  }),
  /** ML Lambda's Python runtime with Debian's scikit-learn (scripts/services/runtimes.sh). */
  sklearnBase: () => need('MLL_TEST_BASE_PYTHON_SKLEARN', dockerHint),
  baseImages: () => ({
    python: need('MLL_TEST_BASE_PYTHON', dockerHint),
    tensorflow: need('MLL_TEST_BASE_TENSORFLOW', dockerHint),
  }),
};

/** The bucket every S3 test shares; each test works under its own unique prefix. */
export const testBucket = 'mll-test';

/** Which kind of Redis the tests run on (REDIS_URL): the cluster variant of a suite skips what needs one server. */
export function redisMode(): 'single' | 'cluster' | 'sentinel' {
  const url = services.redisUrl();
  return url.includes('+cluster://') ? 'cluster' : url.includes('+sentinel://') ? 'sentinel' : 'single';
}
