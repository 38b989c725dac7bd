import path from 'node:path';
import { z } from 'zod';
import { MllError } from './errors.js';
import { parseRedisUrl, RedisUrlError, resolveRedisTarget, type RedisTarget } from './redis/target.js';
import { redactUrlCredentials } from './shared/redact.js';
import { parseFailpoints } from './failpoints.js';

/**
 * Configuration is read once, from environment variables, checked with this schema and passed
 * down as a value. Nothing else in the code base reads process.env (lint enforces it).
 * The README's configuration table is generated from `configDocs` by a test that keeps it true.
 */

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number) => z.coerce.number().int().min(min);

/** `python=img:tag,tensorflow=img:tag` or a JSON object. */
const runtimeMap = z.string().transform((raw, ctx) => {
  const text = raw.trim();
  if (text === '') return {} as Record<string, string>;
  if (text.startsWith('{')) {
    try {
      const parsed = z.record(z.string(), z.string()).parse(JSON.parse(text));
      return parsed;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object of framework → image reference' });
      return z.NEVER;
    }
  }
  const out: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const [framework, image] = pair.split('=').map((s) => s.trim());
    if (!framework || !image) {
      ctx.addIssue({ code: 'custom', message: `"${pair}" is not framework=image` });
      return z.NEVER;
    }
    out[framework] = image;
  }
  return out;
});

/** Which workers a process runs: a comma-separated subset of the stages and `webhooks`. */
export const workerKinds = ['extract', 'build', 'push', 'webhooks'] as const;
export type WorkerKind = (typeof workerKinds)[number];
const workerStages = z.string().transform((raw, ctx) => {
  const chosen = [...new Set(raw.split(',').map((s) => s.trim()).filter((s) => s !== ''))];
  const unknown = chosen.filter((s) => !(workerKinds as readonly string[]).includes(s));
  if (unknown.length > 0 || chosen.length === 0) {
    ctx.addIssue({ code: 'custom', message: `must name one or more of ${workerKinds.join(', ')} (comma-separated)${unknown.length ? `; unknown: ${unknown.join(', ')}` : ''}` });
    return z.NEVER;
  }
  return chosen as WorkerKind[];
});

const redisUrl = z.string().min(1).superRefine((raw, ctx) => {
  try {
    parseRedisUrl(raw);
  } catch (err) {
    if (!(err instanceof RedisUrlError)) throw err;
    ctx.addIssue({ code: 'custom', message: err.message });
  }
});
/** Space- or comma-separated values; empty items dropped. */
const splitList = (raw: string) => raw.split(/[\s,]+/).filter((s) => s !== '');
const list = z.string().transform(splitList);
const httpUrl = z.string().regex(/^https?:\/\/[^\s]+$/, 'must be an http(s) URL');

interface Doc {
  env: string;
  default: string;
  description: string;
}
export const configDocs: Doc[] = [];
function v<T extends z.ZodTypeAny>(env: string, schema: T, dflt: string | undefined, description: string) {
  configDocs.push({ env, default: dflt ?? '(unset)', description });
  return { env, schema, dflt };
}

const vars = {
  host: v('MLL_HOST', z.string().min(1), '127.0.0.1', 'Address the API listens on.'),
  port: v('MLL_PORT', int(0).max(65535), '8080', 'Port the API listens on (0 picks a free one).'),
  publicUrl: v('MLL_PUBLIC_URL', z.string().url().optional(), undefined, 'Base URL clients use to reach the API (default http://MLL_HOST:MLL_PORT); used in version URLs and fs upload URLs.'),
  dataDir: v('MLL_DATA_DIR', z.string().min(1), './data', 'Where the fs object store, OCI layouts and scratch space live. A local disk: the workers read and write small files there with synchronous calls (cheaper than the thread pool for them; src/shared/local-fs.ts); a thread that only serves requests writes through the thread pool, so that a slow disk never stalls a request.'),
  logLevel: v('MLL_LOG_LEVEL', z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), 'info', 'pino log level.'),
  redisUrl: v('REDIS_URL', redisUrl, 'redis://127.0.0.1:6379', 'Redis for queues, version counters, indexes and events: redis://[user:pass@]host:port[/db] (one server; rediss:// for TLS), redis+cluster://host:port,host:port (a Redis Cluster: seed nodes), or redis+sentinel://host:port,host:port[/db]?name=mymaster (the master Sentinel names; &sentinelPassword=… if the sentinels need one).'),
  redisClusterNodes: v('MLL_REDIS_CLUSTER_NODES', z.string().optional(), undefined, 'Seed nodes of a Redis Cluster, host:port,host:port (instead of a redis+cluster:// REDIS_URL, whose user and TLS still apply).'),
  redisPassword: v('MLL_REDIS_PASSWORD', z.string().optional(), undefined, 'Password of the Redis servers (instead of one in REDIS_URL), e.g. from a Secret.'),
  redisSentinelPassword: v('MLL_REDIS_SENTINEL_PASSWORD', z.string().optional(), undefined, 'Password of the Sentinel processes (redis+sentinel:// only), when they have one.'),
  redisWaitMs: v('MLL_REDIS_WAIT_MS', int(0), '15000', 'How long start-up waits for Redis to answer (a Cluster: every slot served) before it stops with an error that says what is missing.'),
  prefix: v('MLL_PREFIX', z.string().regex(/^[A-Za-z0-9_-]+$/), 'mll', 'Prefix of every Redis key and BullMQ queue (inside {hash tags} where keys must share a Redis Cluster slot), so several deployments can share one Redis.'),

  store: v('MLL_STORE', z.enum(['fs', 'minio']), 'fs', 'Object store adapter: fs (under MLL_DATA_DIR/store) or minio (any S3 API).'),
  storePrefix: v('MLL_STORE_PREFIX', z.string().regex(/^([A-Za-z0-9._-]+\/)*$/), '', 'Key prefix inside the bucket (ends with /), to share a bucket.'),
  s3Endpoint: v('MLL_S3_ENDPOINT', z.string().url().optional(), undefined, 'S3 endpoint URL, e.g. http://127.0.0.1:9000 (minio store).'),
  s3PublicEndpoint: v('MLL_S3_PUBLIC_ENDPOINT', z.string().url().optional(), undefined, 'S3 endpoint URL clients outside the service reach, when it differs from MLL_S3_ENDPOINT (e.g. http://minio:9000 inside a compose stack, http://localhost:9000 outside): presigned upload URLs are signed for it.'),
  s3AccessKey: v('MLL_S3_ACCESS_KEY', z.string().optional(), undefined, 'S3 access key (minio store).'),
  s3SecretKey: v('MLL_S3_SECRET_KEY', z.string().optional(), undefined, 'S3 secret key (minio store).'),
  s3Region: v('MLL_S3_REGION', z.string().min(1), 'us-east-1', 'S3 region.'),
  s3Bucket: v('MLL_S3_BUCKET', z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/), 'mll', 'S3 bucket; created when missing.'),
  s3PartSize: v('MLL_S3_PART_SIZE', int(5 * MiB), String(8 * MiB), 'Multipart part size in bytes. Each upload holds at most three parts in memory (two in flight, one filling).'),

  builder: v('MLL_BUILDER', z.enum(['oci', 'docker']), 'oci', 'Image builder: oci (daemonless) or docker (dockerode).'),
  target: v('MLL_TARGET', z.enum(['oci-layout', 'registry']), 'oci-layout', 'Where images go: an OCI layout under MLL_DATA_DIR/images, or a registry.'),
  registry: v('MLL_REGISTRY', z.string().optional(), undefined, 'Registry host[:port][/namespace] images are pushed to (target registry).'),
  registryPublic: v('MLL_REGISTRY_PUBLIC', z.string().regex(/^[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:]+\](:[0-9]{1,5})?$/, 'must be host[:port], without a path').optional(), undefined, 'Registry host[:port] clients pull from, when it differs from the host in MLL_REGISTRY (e.g. registry:5000 inside a compose stack, localhost:5000 outside): image references on versions use it, pushes still go to MLL_REGISTRY.'),
  registryInsecure: v('MLL_REGISTRY_INSECURE', bool, 'false', 'Talk plain HTTP to the registry (loopback registries).'),
  registryUsername: v('MLL_REGISTRY_USERNAME', z.string().optional(), undefined, 'Registry user (basic auth or token exchange).'),
  registryPassword: v('MLL_REGISTRY_PASSWORD', z.string().optional(), undefined, 'Registry password.'),
  runtimes: v('MLL_RUNTIMES', runtimeMap, '', 'Runtime base image per framework, or per framework and version prefix: python=host/img:tag,python:3.6=host/img:py36,tensorflow=... or JSON. The most specific match of the model-type wins; frameworks without one get a model-only image.'),
  runtimeAllow: v('MLL_RUNTIME_ALLOW', list, '', 'Image reference patterns (comma-separated, * within a path segment, ** across) a serving.yaml `runtime:` may name as its base; anything else is ignored with a warning and MLL_RUNTIMES decides.'),
  layerCompression: v('MLL_LAYER_COMPRESSION', z.enum(['none', 'gzip', 'zstd']), 'none', 'Compression of model layers: none (model weights barely compress), gzip (level 1, one thread per layer) or zstd (level 3 on every core, the zstd program; pulling needs Docker 23+ or containerd 1.5+).'),
  installDependencies: v('MLL_INSTALL_DEPENDENCIES', bool, 'true', 'Install a model\'s requirements.txt (or pip install-command) into a /model/lib layer at build time; false builds without them and the version warns.'),
  pipIndexUrl: v('MLL_PIP_INDEX_URL', httpUrl.optional(), undefined, 'Package index (PEP 503) pip installs from; pip\'s default (PyPI) when unset. Credentials in the URL never reach logs, records or images.'),
  pipExtraIndexUrl: v('MLL_PIP_EXTRA_INDEX_URL', z.string().transform(splitList).pipe(z.array(httpUrl)), '', 'More package indexes, space- or comma-separated.'),
  pipTrustedHost: v('MLL_PIP_TRUSTED_HOST', z.string().transform(splitList), '', 'Index hosts pip may reach over plain HTTP or unverified TLS, space- or comma-separated.'),
  pipAllowSdist: v('MLL_PIP_ALLOW_SDIST', bool, 'false', 'Let pip build source distributions. This runs the packages\' build code on the worker: in a bubblewrap sandbox (MLL_PIP_SANDBOX) with an empty environment and the time limit; refused by default.'),
  pipSandbox: v('MLL_PIP_SANDBOX', z.enum(['bwrap', 'none']), 'bwrap', 'Where source builds (MLL_PIP_ALLOW_SDIST) run: bwrap = a bubblewrap sandbox that sees /usr read-only, the network and its own scratch directory, nothing else of the worker; none = as the worker\'s user, unconfined.'),
  pipTimeoutMs: v('MLL_PIP_TIMEOUT_MS', int(1000), '900000', 'Longest a dependency install may take (pip is killed after it, DEPENDENCY_TIMEOUT).'),
  dependencyMaxBytes: v('MLL_DEPENDENCY_MAX_BYTES', int(1), String(2 * GiB), 'Largest total size of a model\'s installed dependencies (DEPENDENCY_TOO_LARGE above).'),
  pipPython: v('MLL_PIP_PYTHON', z.string().min(1), 'python3', 'The Python interpreter (with pip) the workers run pip with.'),
  pipPythonVersion: v('MLL_PIP_PYTHON_VERSION', z.string().regex(/^3\.[0-9]{1,2}$/), '3.11', 'Python version dependencies are installed for when neither the runtime image (label ai.mll.runtime.python) nor the model-type (python:3.x) says.'),
  dockerHost: v('DOCKER_HOST', z.string().optional(), undefined, 'Docker engine for the docker builder (unix:///path or tcp://host:port).'),

  maxUploadBytes: v('MLL_MAX_UPLOAD_BYTES', int(1), String(10 * GiB), 'Largest accepted upload body (413 above).'),
  maxUnpackedBytes: v('MLL_MAX_UNPACKED_BYTES', int(1), String(20 * GiB), 'Largest total size of the files in one archive.'),
  httpHeadersTimeoutMs: v('MLL_HTTP_HEADERS_TIMEOUT_MS', int(100), '30000', 'A client must send its request headers within this time.'),
  httpIdleTimeoutMs: v('MLL_HTTP_IDLE_TIMEOUT_MS', int(100), '120000', 'A connection that sends nothing for this long is closed (a stalled upload is dropped and leaves nothing behind).'),
  httpKeepAliveTimeoutMs: v('MLL_HTTP_KEEP_ALIVE_TIMEOUT_MS', int(100), '65000', 'An idle keep-alive connection is closed after this long: longer than the 60 s idle timeout of common load balancers and proxies, so none of them reuses a connection the service has just closed.'),
  maxFiles: v('MLL_MAX_FILES', int(1), '10000', 'Most entries in one archive.'),
  maxPathDepth: v('MLL_MAX_PATH_DEPTH', int(1), '64', 'Deepest directory nesting in one archive.'),
  servingYaml: v('MLL_SERVING_YAML', z.enum(['lenient', 'strict']), 'lenient', 'lenient: unknown serving.yaml keys become warnings on the version. strict: they fail the version.'),

  extractConcurrency: v('MLL_EXTRACT_CONCURRENCY', int(1), '2', 'Extracts run at once per worker process.'),
  buildConcurrency: v('MLL_BUILD_CONCURRENCY', int(1), '2', 'Builds run at once per worker process (whether a build job or a version job runs them).'),
  pushConcurrency: v('MLL_PUSH_CONCURRENCY', int(1), '4', 'Pushes run at once per worker process (whether a push job or a version job runs them).'),
  stageAttempts: v('MLL_STAGE_ATTEMPTS', int(1), '5', 'Attempts per stage for transient faults. A version job (one job running its stages in turn) goes on from the stage that failed, each stage counting its own attempts; its stages share these attempts only when more than one of them fails.'),
  stageBackoffMs: v('MLL_STAGE_BACKOFF_MS', int(1), '1000', 'First retry delay of a stage; doubles each attempt, with jitter.'),
  stageLockMs: v('MLL_STAGE_LOCK_MS', int(1000), '30000', 'How long a stage job stays locked to its worker without a heartbeat; a killed worker\'s job is taken over after about this long.'),
  workerStuckMs: v('MLL_WORKER_STUCK_MS', int(0), '45000', 'A worker with a free slot that starts no job for this long while its queue holds ready ones is replaced by a new one (a blocking Redis connection that never recovered from a failover); 0 disables. Keep it well above 10 s, the longest a healthy worker waits between looks at its queue.'),
  recoveryCheckMs: v('MLL_RECOVERY_CHECK_MS', int(0), '10000', 'How often a running process checks that Redis still holds its index (and rebuilds it from the object store if Redis lost it), relays webhook events a stopped process left in the outbox, and enqueues versions left queued without jobs for three of these intervals (an API stopped between writing a version and enqueueing it); 0 disables.'),
  failpoints: v('MLL_FAILPOINTS', z.string().regex(/^([a-z0-9-]+=sleep:[0-9]+)?(,[a-z0-9-]+=sleep:[0-9]+)*$/).transform(parseFailpoints), '', 'Testing only: pause at named points (src/failpoints.ts: inside stages, a blob upload to the registry, a multipart upload to S3, before a webhook relay, around the write of a new version record; e.g. extract-mid=sleep:5000) so fault tests can kill a process there.'),
  workerStages: v('MLL_WORKER_STAGES', workerStages, workerKinds.join(','), 'Which workers a process that runs workers starts: any of extract, build, push, webhooks, comma-separated. Lets each stage scale (and be measured) on its own; every one must run somewhere. A version runs as one job in the stage-chain queue, taken by processes that serve extract: it runs each next stage its process also serves in the same job, and hands the first one it does not serve, with those after it, on to the processes that serve them.'),
  workersPort: v('MLL_WORKERS_PORT', int(0).max(65535).optional(), undefined, 'Port of the health and metrics listener (/healthz, /readyz, /metrics) of a process that runs the workers, on MLL_HOST; unset: none (the API serves its own). For probes and queue-depth scraping when workers run apart.'),
  workersThread: v('MLL_WORKERS_THREAD', bool, 'true', 'A process that runs both the API and the workers (npm start) runs the workers on a thread of their own: requests never wait behind stage work on one event loop, and the process uses two cores. false: one thread for both.'),
  workersThreadNice: v('MLL_WORKERS_THREAD_NICE', int(0).max(19), '10', 'How many nice levels below the API the workers\' thread runs (MLL_WORKERS_THREAD; Linux): when the cores are busy, requests get the CPU first and the stages (and the processes they start, such as pip) take what is left. 0: the same priority.'),
  shutdownGraceMs: v('MLL_SHUTDOWN_GRACE_MS', int(0), '30000', 'How long SIGTERM waits for running stages before leaving them to another worker.'),

  auth: v('MLL_AUTH', z.enum(['tokens', 'none']), 'tokens', 'tokens: every API route needs a bearer token with the right scope (read, write, admin); the first start prints an admin token. none: open, for local experiments only.'),
  bootstrapToken: v('MLL_BOOTSTRAP_TOKEN', z.string().regex(/^mll_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{32,}$/).optional(), undefined, 'An admin token to create at start-up if it does not exist yet (instead of printing a generated one); also the way back in when every admin token is lost.'),
  uploadRatePerMinute: v('MLL_UPLOAD_RATE_PER_MINUTE', int(1), '6000', 'Uploads (versions, batches, presigned uploads) one token may start per minute; a burst of the same size is allowed. 429 with Retry-After above.'),
  webhookAllowPrivate: v('MLL_WEBHOOK_ALLOW_PRIVATE', bool, 'false', 'Let webhooks reach loopback, private, link-local and other non-public addresses (checked when connecting).'),
  webhookAttempts: v('MLL_WEBHOOK_ATTEMPTS', int(1), '15', 'Delivery attempts per webhook event and endpoint before giving up (spread over about 17 hours with the default backoff).'),
  webhookTimeoutMs: v('MLL_WEBHOOK_TIMEOUT_MS', int(100), '15000', 'How long one delivery attempt waits for the receiver to answer.'),
  webhookBackoffMs: v('MLL_WEBHOOK_BACKOFF_MS', int(1), '5000', 'First retry delay of a webhook delivery; doubles each attempt, with jitter.'),
  webhookBackoffMaxMs: v('MLL_WEBHOOK_BACKOFF_MAX_MS', int(1), String(6 * 3600 * 1000), 'Longest delay between delivery attempts, also the cap on a receiver\'s Retry-After.'),
  webhookConcurrency: v('MLL_WEBHOOK_CONCURRENCY', int(1), '16', 'Webhook deliveries in flight at once per worker process.'),
} as const;

type Vars = typeof vars;
type Parsed = { [K in keyof Vars]: z.output<Vars[K]['schema']> };

export interface Config extends Parsed {
  /** Absolute form of dataDir. */
  dataDirAbs: string;
  /** publicUrl, or derived from host and port. */
  baseUrl: string;
  /** Where Redis is (one server, Cluster or Sentinel), from REDIS_URL and the MLL_REDIS_* variables. */
  redis: RedisTarget;
  /** The PATH the process was started with: where pip (MLL_PIP_PYTHON) and build tools are looked up. */
  searchPath: string;
}

export type Env = Record<string, string | undefined>;

/** Parses the whole configuration once; every problem is reported together, naming the variable. */
export function loadConfig(env: Env = process.env, cwd = process.cwd()): Config {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, spec] of Object.entries(vars)) {
    const raw = env[spec.env] === '' && spec.dflt === undefined ? undefined : env[spec.env] ?? spec.dflt;
    const result = spec.schema.safeParse(raw);
    if (result.success) out[key] = result.data;
    else problems.push(`${spec.env}=${redactUrlCredentials(JSON.stringify(raw ?? null))}: ${result.error.issues.map((i) => i.message).join('; ')}`);
  }
  const parsed = out as Parsed;
  let redis: RedisTarget | undefined;
  if (problems.length === 0) {
    if (parsed.store === 'minio') {
      for (const [k, name] of [['s3Endpoint', 'MLL_S3_ENDPOINT'], ['s3AccessKey', 'MLL_S3_ACCESS_KEY'], ['s3SecretKey', 'MLL_S3_SECRET_KEY']] as const) {
        if (!parsed[k]) problems.push(`${name} is required when MLL_STORE=minio`);
      }
    }
    try {
      redis = resolveRedisTarget(parseRedisUrl(parsed.redisUrl), {
        clusterNodes: parsed.redisClusterNodes, password: parsed.redisPassword, sentinelPassword: parsed.redisSentinelPassword,
      });
    } catch (err) {
      if (!(err instanceof RedisUrlError)) throw err;
      problems.push(err.message);
    }
    if (parsed.target === 'registry' && !parsed.registry) problems.push('MLL_REGISTRY is required when MLL_TARGET=registry');
    if (parsed.builder === 'docker' && parsed.target !== 'registry') {
      problems.push('MLL_BUILDER=docker pushes through the Docker engine, so it needs MLL_TARGET=registry');
    }
  }
  if (problems.length > 0) {
    throw new MllError('BAD_REQUEST', `Invalid configuration:\n  ${problems.join('\n  ')}`, { details: problems });
  }
  const dataDirAbs = path.resolve(cwd, parsed.dataDir);
  const shownHost = parsed.host === '0.0.0.0' || parsed.host === '::' ? '127.0.0.1' : parsed.host;
  const baseUrl = (parsed.publicUrl ?? `http://${shownHost}:${parsed.port}`).replace(/\/+$/, '');
  return { ...parsed, dataDirAbs, baseUrl, redis: redis!, searchPath: env.PATH ?? '/usr/local/bin:/usr/bin:/bin' };
}
