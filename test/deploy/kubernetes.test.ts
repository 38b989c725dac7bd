import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import * as yaml from 'js-yaml';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { pipelineQueueNames } from '../../queues/names.js';
import { configDocs, loadConfig } from '../../src/config.js';
import { createMetrics } from '../../src/metrics.js';
import { repoRoot } from '../support/paths.js';

const exec = promisify(execFile);
// scripts/services/test-deps.sh makes sure there is a kubectl whose kustomize is v5.
const kubectl = process.env.MLL_KUBECTL ?? 'kubectl';

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  [key: string]: unknown;
}

/** The Kubernetes API schemas (and KEDA's CRD schema) as compiled validators, by apiVersion/kind. */
const schemas: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
};

function validate(object: K8sObject): void {
  const Model = schemas[`${object.apiVersion}/${object.kind}`];
  assert.ok(Model, `no schema known for ${object.apiVersion} ${object.kind} (${object.metadata.name})`);
  try {
    new Model(object as never).validate();
  } catch (err) {
    assert.fail(`${object.kind}/${object.metadata.name} does not match the Kubernetes schema: ${(err as Error).message}`);
  }
}

async function render(dir: string): Promise<K8sObject[]> {
  const { stdout, stderr } = await exec(kubectl, ['kustomize', dir], { maxBuffer: 16 * 1024 * 1024 });
  assert.equal(stderr, '', `kustomize warns about ${dir}`);
  return yaml.loadAll(stdout) as K8sObject[];
}

const one = (objects: K8sObject[], kind: string, name: string): K8sObject => {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  assert.equal(found.length, 1, `one ${kind} named ${name}`);
  return found[0]!;
};
const podSpec = (d: K8sObject) => (d.spec as { template: { spec: IPodSpec } }).template.spec;
const podLabels = (d: K8sObject) => (d.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
const envValue = (c: IContainer, name: string) => c.env?.find((e) => e.name === name)?.value;
const portNumber = (c: IContainer, name: string) => c.ports?.find((p) => p.name === name)?.containerPort;

describe('deploy/kubernetes: kustomize base and example overlay', () => {
  let work: string;
  let base: K8sObject[];
  let overlay: K8sObject[];

  before(async () => {
    // Rendered from a copy, as an operator would: secrets.env made from its example.
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'mll-kustomize-'));
    await fs.cp(path.join(repoRoot, 'deploy', 'kubernetes'), work, { recursive: true });
    const example = path.join(work, 'overlays', 'example');
    await fs.copyFile(path.join(example, 'secrets.env.example'), path.join(example, 'secrets.env'));
    [base, overlay] = await Promise.all([render(path.join(work, 'base')), render(example)]);
  });
  after(() => fs.rm(work, { recursive: true, force: true }));

  it('every rendered object is valid against the Kubernetes API schemas and KEDA\'s CRD', () => {
    for (const object of [...base, ...overlay]) validate(object);
    assert.deepEqual(overlay.map((o) => `${o.kind}/${o.metadata.name.replace(/-[a-z0-9]{10}$/, '')}`).sort(), [
      'ConfigMap/mll-config', 'Deployment/mll-api', 'Deployment/mll-workers', 'HorizontalPodAutoscaler/mll-api',
      'Namespace/mll', 'NetworkPolicy/mll-api', 'NetworkPolicy/mll-workers', 'PodDisruptionBudget/mll-api',
      'PodDisruptionBudget/mll-workers', 'ScaledObject/mll-workers', 'Secret/mll-secrets', 'Service/mll-api', 'ServiceAccount/mll',
    ]);
    // The validator is live: a wrong type and a missing required field are refused.
    const api = structuredClone(one(overlay, 'Deployment', 'mll-api'));
    (api.spec as Record<string, unknown>).replicas = 'two';
    assert.throws(() => validate(api), /replicas/);
    const scaled = structuredClone(one(overlay, 'ScaledObject', 'mll-workers'));
    delete (scaled.spec as Record<string, unknown>).scaleTargetRef;
    assert.throws(() => validate(scaled), /scaleTargetRef/);
  });

  it('the base is environment-free and labelled from one place; the overlay patches images, replicas and resources', () => {
    for (const object of base) {
      assert.equal(object.metadata.namespace, undefined, `${object.kind}/${object.metadata.name} has no namespace in the base`);
      assert.equal(object.metadata.labels?.['app.kubernetes.io/name'], 'ml-lambda', `${object.kind}/${object.metadata.name} is labelled`);
    }
    for (const object of overlay) assert.equal(object.metadata.namespace ?? 'mll', 'mll');
    for (const name of ['mll-api', 'mll-workers']) {
      const [b, o] = [one(base, 'Deployment', name), one(overlay, 'Deployment', name)];
      assert.equal(b.spec!.replicas, undefined, `${name}: the autoscaler owns the replica count`);
      const [bc, oc] = [podSpec(b).containers[0]!, podSpec(o).containers[0]!];
      assert.equal(bc.image, 'ml-lambda:0.1.0');
      assert.equal(oc.image, 'registry.example.com/ml-lambda:0.1.0');
      assert.notDeepEqual(oc.resources, bc.resources, `${name}: the overlay sets its resources`);
    }
    assert.notEqual(one(overlay, 'HorizontalPodAutoscaler', 'mll-api').spec!.minReplicas, one(base, 'HorizontalPodAutoscaler', 'mll-api').spec!.minReplicas);
    assert.notEqual(one(overlay, 'ScaledObject', 'mll-workers').spec!.maxReplicaCount, one(base, 'ScaledObject', 'mll-workers').spec!.maxReplicaCount);
  });

  it('pods run non-root on a read-only root filesystem with writable scratch volumes, no privileges, resources set', () => {
    for (const name of ['mll-api', 'mll-workers']) {
      const deployment = one(overlay, 'Deployment', name);
      const spec = podSpec(deployment);
      assert.equal(spec.securityContext?.runAsNonRoot, true, name);
      assert.equal(spec.securityContext?.seccompProfile?.type, 'RuntimeDefault', name);
      assert.equal(spec.automountServiceAccountToken, false, name);
      for (const c of spec.containers) {
        assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${name}/${c.name}`);
        assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${name}/${c.name}`);
        assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], `${name}/${c.name}`);
        assert.ok(c.resources?.requests?.cpu && c.resources.requests.memory && c.resources.limits?.memory, `${name}/${c.name} resources`);
        assert.match(c.image!, /:[\w.-]+$/, 'images are pinned by tag');
        assert.doesNotMatch(c.image!, /:latest$/);
        const mounts = new Map((c.volumeMounts ?? []).map((m) => [m.mountPath, m.name]));
        for (const dir of ['/tmp', envValue(c, 'MLL_DATA_DIR')!]) {
          const volume = spec.volumes?.find((v) => v.name === mounts.get(dir));
          assert.ok(volume?.emptyDir, `${name}/${c.name}: ${dir} is a writable emptyDir`);
        }
      }
    }
  });

  it('probes: the API\'s /readyz and /healthz; the workers\' own listener; grace above MLL_SHUTDOWN_GRACE_MS', () => {
    const api = one(overlay, 'Deployment', 'mll-api');
    const apiContainer = podSpec(api).containers[0]!;
    assert.equal(apiContainer.readinessProbe?.httpGet?.path, '/readyz');
    assert.equal(apiContainer.livenessProbe?.httpGet?.path, '/healthz');
    assert.equal(portNumber(apiContainer, String(apiContainer.readinessProbe?.httpGet?.port)), Number(envValue(apiContainer, 'MLL_PORT')));
    assert.deepEqual(apiContainer.command, ['node', 'dist/src/bin/api.js']);

    const workers = one(overlay, 'Deployment', 'mll-workers');
    const w = podSpec(workers).containers[0]!;
    assert.deepEqual(w.command, ['node', 'dist/src/bin/workers.js']);
    assert.equal(w.livenessProbe?.httpGet?.path, '/healthz');
    assert.equal(w.readinessProbe?.httpGet?.path, '/readyz');
    for (const probe of [w.livenessProbe, w.readinessProbe, w.startupProbe]) {
      assert.equal(portNumber(w, String(probe?.httpGet?.port)), Number(envValue(w, 'MLL_WORKERS_PORT')), 'probes reach MLL_WORKERS_PORT');
    }
    const annotations = (workers.spec as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata.annotations;
    assert.equal(Number(annotations['prometheus.io/port']), Number(envValue(w, 'MLL_WORKERS_PORT')));

    for (const deployment of [api, workers]) {
      const container = podSpec(deployment).containers[0]!;
      const graceMs = loadConfig(podEnv(overlay, container)).shutdownGraceMs;
      assert.ok(podSpec(deployment).terminationGracePeriodSeconds! * 1000 > graceMs,
        `${deployment.metadata.name}: terminationGracePeriodSeconds is above MLL_SHUTDOWN_GRACE_MS (${graceMs} ms)`);
    }
  });

  it('the PDBs, the HPA, the ScaledObject, the Service and the NetworkPolicies select what they mean to', () => {
    const deployments = overlay.filter((o) => o.kind === 'Deployment');
    const selected = (selector: Record<string, string>) => deployments.filter((d) => matches(selector, podLabels(d))).map((d) => d.metadata.name);
    for (const d of deployments) {
      const selector = (d.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
      assert.deepEqual(selected(selector), [d.metadata.name], `${d.metadata.name}'s selector picks its own pods only`);
    }
    for (const [name, target] of [['mll-api', 'mll-api'], ['mll-workers', 'mll-workers']]) {
      const pdb = one(overlay, 'PodDisruptionBudget', name!);
      assert.deepEqual(selected((pdb.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels), [target]);
      const policy = one(overlay, 'NetworkPolicy', name!);
      const spec = policy.spec as { podSelector: { matchLabels: Record<string, string> }; ingress: { ports: { port: string }[] }[] };
      assert.deepEqual(selected(spec.podSelector.matchLabels), [target]);
      const container = podSpec(one(overlay, 'Deployment', target!)).containers[0]!;
      for (const rule of spec.ingress) for (const p of rule.ports) assert.ok(portNumber(container, p.port), `${name}: port ${p.port} is a named container port`);
    }
    const service = one(overlay, 'Service', 'mll-api');
    const serviceSpec = service.spec as { selector: Record<string, string>; ports: { targetPort: string }[] };
    assert.deepEqual(selected(serviceSpec.selector), ['mll-api']);
    assert.ok(portNumber(podSpec(one(overlay, 'Deployment', 'mll-api')).containers[0]!, serviceSpec.ports[0]!.targetPort));

    const hpa = one(overlay, 'HorizontalPodAutoscaler', 'mll-api').spec as { scaleTargetRef: { kind: string; name: string }; metrics: { resource: { name: string } }[] };
    assert.deepEqual([hpa.scaleTargetRef.kind, hpa.scaleTargetRef.name], ['Deployment', 'mll-api']);
    assert.equal(hpa.metrics[0]!.resource.name, 'cpu');
    const scaled = one(overlay, 'ScaledObject', 'mll-workers').spec as { scaleTargetRef: { name: string }; triggers: { type: string; metadata: { query: string } }[] };
    assert.equal(scaled.scaleTargetRef.name, 'mll-workers');
  });

  it('KEDA scales on a queue-depth metric that exists and covers every stage queue', async () => {
    const scaled = one(overlay, 'ScaledObject', 'mll-workers').spec as { triggers: { type: string; metadata: { query: string; threshold: string } }[] };
    const trigger = scaled.triggers[0]!;
    assert.equal(trigger.type, 'prometheus');
    const metric = /(mll_[a-z_]+)\{([^}]*)\}/.exec(trigger.metadata.query);
    assert.ok(metric, trigger.metadata.query);
    const metrics = createMetrics();
    assert.ok(metrics.registry.getSingleMetric(metric[1]!), `${metric[1]} is a metric the service exports`);
    const queueRegex = new RegExp(`^(?:${/queue=~"([^"]+)"/.exec(metric[2]!)![1]})$`);
    for (const queue of pipelineQueueNames) assert.match(queue, queueRegex);
    const states = /state=~"([^"]+)"/.exec(metric[2]!)![1]!.split('|');
    assert.ok(states.includes('waiting') && states.includes('active'), 'waiting and running jobs count');
    assert.ok(Number(trigger.metadata.threshold) > 0);
  });

  it('every variable the pods get is a configuration variable, and together they make a valid configuration', () => {
    const known = new Set(configDocs.map((d) => d.env));
    for (const name of ['mll-api', 'mll-workers']) {
      const container = podSpec(one(overlay, 'Deployment', name)).containers[0]!;
      const env = podEnv(overlay, container);
      for (const variable of Object.keys(env)) assert.ok(known.has(variable), `${name}: ${variable} is not in src/config.ts`);
      const config = loadConfig(env);
      assert.equal(config.store, 'minio');
      assert.equal(config.target, 'registry');
      assert.ok(config.s3PublicEndpoint && config.registryPublic && config.publicUrl, 'clients get public addresses');
      assert.ok(config.runtimes.python, 'the Python runtime is configured');
      assert.equal(config.host, '0.0.0.0');
    }
  });
});

/** The environment a container gets: its ConfigMap and Secret (envFrom), then its own env. */
function podEnv(objects: K8sObject[], container: IContainer): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    if (from.configMapRef) Object.assign(env, one(objects, 'ConfigMap', from.configMapRef.name!).data);
    if (from.secretRef) {
      const data = one(objects, 'Secret', from.secretRef.name!).data ?? {};
      for (const [k, v] of Object.entries(data)) env[k] = Buffer.from(v, 'base64').toString('utf8');
    }
  }
  for (const e of container.env ?? []) {
    assert.ok(e.value !== undefined, `${e.name} has a literal value`);
    env[e.name] = e.value;
  }
  return env;
}
