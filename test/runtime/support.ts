import { execFile, execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import protobuf from 'protobufjs';
import { encodeContract, type Contract } from '../../src/contract/index.js';
import { repoRoot } from '../support/paths.js';
import { uniqueName } from '../support/unique.js';

/** Running ML Lambda's Python runtime image on the test Docker engine, and talking to both of its faces. */

const execFileAsync = promisify(execFile);

export function docker(args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
}

export async function dockerAsync(args: string[]): Promise<string> {
  return (await execFileAsync('docker', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })).stdout;
}

/** The protos the runtime is generated from, for building and reading messages in tests. */
export const protos = (() => {
  const root = new protobuf.Root();
  const dir = path.join(repoRoot, 'runtimes', 'python', 'protos');
  root.resolvePath = (_origin, target) => path.join(dir, target);
  root.loadSync(['hydro_serving_grpc/predict.proto'], { keepCase: true });
  return {
    PredictRequest: root.lookupType('hydrosphere.tensorflow.serving.PredictRequest'),
    PredictResponse: root.lookupType('hydrosphere.tensorflow.serving.PredictResponse'),
  };
})();

export const DT = { FLOAT: 1, DOUBLE: 2, STRING: 7, INT64: 9 } as const;

export interface TensorJson {
  dtype: number;
  tensor_shape?: { dim: { size: number }[] };
  float_val?: number[];
  double_val?: number[];
  string_val?: Uint8Array[];
  int64_val?: (number | { toNumber(): number })[];
}

export const tensor = (dtype: number, dims: number[], values: Omit<TensorJson, 'dtype' | 'tensor_shape'>): TensorJson =>
  ({ dtype, tensor_shape: { dim: dims.map((size) => ({ size })) }, ...values });

export function predictRequest(signature: string, inputs: Record<string, TensorJson>): Buffer {
  return Buffer.from(protos.PredictRequest.encode(protos.PredictRequest.fromObject({ model_spec: { name: 'm', signature_name: signature }, inputs })).finish());
}

export function decodeResponse(body: Buffer): Record<string, TensorJson> {
  return (protos.PredictResponse.toObject(protos.PredictResponse.decode(body), { longs: Number, defaults: false }) as { outputs: Record<string, TensorJson> }).outputs;
}

export interface GrpcAnswer {
  /** grpc-status: 0 OK, 2 UNKNOWN, 3 INVALID_ARGUMENT, 11 OUT_OF_RANGE, 13 INTERNAL, 14 UNAVAILABLE. */
  code: number;
  message: string;
  /** The response message (without the 5-byte frame), when there is one. */
  body: Buffer | null;
}

/** One unary gRPC call over plaintext HTTP/2 with the exact request bytes given. */
export function grpcCall(address: string, method: string, message: Buffer, timeoutMs = 20_000): Promise<GrpcAnswer> {
  return new Promise((resolve, reject) => {
    const client = http2.connect(`http://${address}`);
    const fail = (err: Error) => {
      client.close();
      reject(err);
    };
    client.on('error', fail);
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt32BE(message.length, 1);
    message.copy(frame, 5);
    const req = client.request({ ':method': 'POST', ':path': method, 'content-type': 'application/grpc', te: 'trailers' });
    req.setTimeout(timeoutMs, () => fail(new Error(`gRPC ${method} on ${address}: no answer in ${timeoutMs} ms`)));
    const chunks: Buffer[] = [];
    let status: Record<string, unknown> = {};
    req.on('response', (headers) => (status = { ...headers }));
    req.on('trailers', (trailers) => (status = { ...status, ...trailers }));
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('error', fail);
    req.on('end', () => {
      client.close();
      const data = Buffer.concat(chunks);
      resolve({
        code: Number(status['grpc-status'] ?? -1),
        message: decodeURIComponent(String(status['grpc-message'] ?? '')),
        body: data.length >= 5 ? data.subarray(5, 5 + data.readUInt32BE(1)) : null,
      });
    });
    req.end(frame);
  });
}

export const PREDICT = '/tensorflow.serving.PredictionService/Predict';

/** A model directory as the runtime expects it at /model: files/… and contract.protobin. */
export async function writeModelDir(name: string, contract: Contract, files: Record<string, string>): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mll-rt-'));
  for (const [rel, content] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, 'files', rel)), { recursive: true });
    await fs.writeFile(path.join(dir, 'files', rel), content);
  }
  await fs.writeFile(path.join(dir, 'contract.protobin'), encodeContract(name, contract));
  return dir;
}

export interface RunningRuntime {
  id: string;
  /** host:port of the gRPC face. */
  grpc: string;
  /** http://host:port of the HTTP face. */
  http: string;
  logs(): string;
  /** Milliseconds from `docker start` until GET /v2/health/ready answered 200. */
  readyAfterMs: number;
  remove(): void;
}

/** Creates and starts a container of the image with the given docker run arguments (mounts, env). */
export async function startRuntime(image: string, runArgs: string[], options: { waitReady?: boolean; timeoutMs?: number; command?: string[] } = {}): Promise<RunningRuntime> {
  const id = docker(['create', '--name', uniqueName('mllrt'), '-p', '127.0.0.1::9090', '-p', '127.0.0.1::9091', ...runArgs, image, ...(options.command ?? [])]).trim();
  const remove = () => {
    try {
      docker(['rm', '-f', '-v', id]);
    } catch {
      /* already gone */
    }
  };
  try {
    const started = performance.now();
    docker(['start', id]);
    // A container that already exited has no ports: '' (only tests of failing start-ups ask for that).
    const port = (p: number) => {
      try {
        return docker(['port', id, `${p}/tcp`]).split('\n')[0]!.trim().replace('0.0.0.0', '127.0.0.1');
      } catch {
        return '';
      }
    };
    const rt: RunningRuntime = { id, grpc: port(9090), http: `http://${port(9091)}`, logs: () => logsOf(id), readyAfterMs: NaN, remove };
    if (options.waitReady !== false) rt.readyAfterMs = (await waitReady(rt, options.timeoutMs ?? 30_000)) - started;
    return rt;
  } catch (err) {
    const logs = logsOf(id);
    remove();
    throw new Error(`${(err as Error).message}\ncontainer logs:\n${logs}`, { cause: err });
  }
}

/** Everything the container printed (the runtime logs on stderr). */
export function logsOf(id: string): string {
  const r = spawnSync('docker', ['logs', id], { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`;
}

/**
 * fetch with a deadline on a timer that keeps the process alive: a request to a published port whose
 * container does not listen yet can hang with nothing else holding the event loop (AbortSignal.timeout's
 * timer does not hold it).
 */
export async function fetchWithin(url: string, init: RequestInit = {}, ms = 10_000): Promise<Response> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error(`${init.method ?? 'GET'} ${url}: no answer in ${ms} ms`)), ms);
  try {
    return await fetch(url, { ...init, signal: abort.signal });
  } finally {
    clearTimeout(timer);
  }
}

/** Polls the readiness endpoint; resolves with the time it first answered 200 (performance.now()). */
export async function waitReady(rt: Pick<RunningRuntime, 'http' | 'id'>, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetchWithin(`${rt.http}/v2/health/ready`, {}, 2000);
      if (res.status === 200) return performance.now();
    } catch {
      /* not listening yet */
    }
    if (docker(['inspect', '-f', '{{.State.Running}}', rt.id]).trim() !== 'true') throw new Error('the runtime exited before it was ready');
    if (performance.now() > deadline) throw new Error(`the runtime was not ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits for the container to exit and returns its exit code. */
export async function waitExit(id: string, timeoutMs = 30_000): Promise<number> {
  const out = await Promise.race([
    dockerAsync(['wait', id]),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`container ${id} still runs after ${timeoutMs} ms`)), timeoutMs)),
  ]);
  return Number(out.trim());
}

export async function infer(rt: RunningRuntime, model: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetchWithin(`${rt.http}/v2/models/${model}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Makes sure the engine runs the registry's current image for the tag (it may have moved since the last pull). */
export function pull(image: string): void {
  docker(['pull', '-q', image]);
}
