import assert from 'node:assert/strict';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS: the import is its module.exports, whose `default` is the plugin.
const addFormats = addFormatsModule.default;

type Json = Record<string, unknown>;

export interface CheckedResponse<T = unknown> {
  status: number;
  headers: Headers;
  text: string;
  body: T;
}

export interface OpenApiCall {
  method: 'get' | 'post' | 'put' | 'delete';
  /** The document's path template, e.g. /api/v1/models/{name}. */
  path: string;
  params?: Record<string, string | number>;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: RequestInit['body'];
  /** Read only the head and a first chunk of the body (a stream that never ends). */
  headOnly?: boolean;
}

const docId = 'https://ml-lambda.test/openapi.json';
const escapePointer = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * Validates real responses against an OpenAPI 3.1 document: every status must be documented for
 * the operation, every body's media type must be documented for that status, and the body must
 * match the schema there (JSON Schema 2020-12, Ajv). Records what was exercised.
 */
export class OpenApiChecker {
  private readonly ajv: Ajv2020;
  private readonly validators = new Map<string, ValidateFunction>();
  /** "method path" → statuses seen. */
  readonly seen = new Map<string, Set<number>>();
  /** "method path" of every JSON request body checked against the document. */
  readonly requestsChecked: string[] = [];

  constructor(readonly doc: Json, private readonly baseUrl: string, private readonly authorization?: string) {
    // strict: false because the document is not a schema itself (openapi, paths, summary… are not keywords).
    this.ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
    addFormats(this.ajv);
    this.ajv.addFormat('binary', true);
    this.ajv.addSchema({ ...doc, $id: docId });
  }

  operations(): string[] {
    const paths = this.doc.paths as Record<string, Record<string, unknown>>;
    return Object.entries(paths).flatMap(([p, item]) => Object.keys(item).map((m) => `${m} ${p}`));
  }

  url(call: Pick<OpenApiCall, 'path' | 'params' | 'query'>): string {
    const filled = call.path.replace(/\{(\w+)\}/g, (_m, name: string) => {
      const value = call.params?.[name];
      assert.ok(value !== undefined, `no value for {${name}} in ${call.path}`);
      return name === 'key' ? String(value) : encodeURIComponent(String(value));
    });
    const query = call.query ? `?${new URLSearchParams(call.query)}` : '';
    return `${this.baseUrl}${filled}${query}`;
  }

  async call<T = unknown>(call: OpenApiCall, expected?: number): Promise<CheckedResponse<T>> {
    const headers: Record<string, string> = { ...(this.authorization ? { authorization: this.authorization } : {}), ...call.headers };
    for (const [k, v] of Object.entries(headers)) if (v === '') delete headers[k];
    const abort = new AbortController();
    const res = await fetch(this.url(call), { method: call.method.toUpperCase(), headers, body: call.body, signal: abort.signal });
    let text: string;
    if (call.headOnly) {
      const reader = res.body!.getReader();
      const first = await reader.read();
      text = first.value ? Buffer.from(first.value).toString('utf8') : '';
      abort.abort();
      await reader.cancel().catch(() => undefined);
    } else {
      text = await res.text();
    }
    const checked = { status: res.status, headers: res.headers, text, body: undefined as T };
    if (expected !== undefined) assert.equal(res.status, expected, `${call.method.toUpperCase()} ${call.path}: ${text.slice(0, 500)}`);
    checked.body = this.check(call.method, call.path, res.status, res.headers.get('content-type'), text) as T;
    this.checkRequest(call, headers, res.status);
    return checked;
  }

  /**
   * The request side: a JSON body the server took (2xx) must match the documented request body,
   * and one the document refuses must have been refused (4xx).
   */
  private checkRequest(call: OpenApiCall, headers: Record<string, string>, status: number): void {
    const type = Object.entries(headers).find(([k]) => k.toLowerCase() === 'content-type')?.[1];
    if (typeof call.body !== 'string' || type !== 'application/json') return;
    const paths = this.doc.paths as Record<string, Record<string, { requestBody?: { content?: Record<string, unknown> } }>>;
    if (!paths[call.path]?.[call.method]?.requestBody?.content?.['application/json']) return;
    const pointer = `/paths/${escapePointer(call.path)}/${call.method}/requestBody/content/application~1json/schema`;
    let validate = this.validators.get(pointer);
    if (!validate) {
      validate = this.ajv.compile({ $ref: `${docId}#${pointer}` });
      this.validators.set(pointer, validate);
    }
    const where = `${call.method.toUpperCase()} ${call.path} with ${call.body.slice(0, 200)}`;
    const valid = validate(JSON.parse(call.body));
    this.requestsChecked.push(`${call.method} ${call.path}`);
    if (status < 300) assert.ok(valid, `${where}: the server took a body the document refuses: ${this.ajv.errorsText(validate.errors)}`);
    if (!valid) assert.ok(status >= 400 && status < 500, `${where}: the document refuses this body, the server answered ${status}`);
  }

  /** Validates a value against one of components.schemas (a webhook body, say); fails with the reasons. */
  checkComponent(name: string, value: unknown): void {
    const ref = `${docId}#/components/schemas/${escapePointer(name)}`;
    let validate = this.validators.get(ref);
    if (!validate) {
      validate = this.ajv.compile({ $ref: ref });
      this.validators.set(ref, validate);
    }
    if (!validate(value)) assert.fail(`${name} does not match: ${this.ajv.errorsText(validate.errors, { separator: '\n  ' })}\nvalue: ${JSON.stringify(value).slice(0, 1500)}`);
  }

  /** Checks one response against the document and returns its parsed body (JSON) or text. */
  check(method: string, path: string, status: number, contentType: string | null, text: string): unknown {
    const where = `${method.toUpperCase()} ${path} → ${status}`;
    const paths = this.doc.paths as Record<string, Record<string, { responses: Record<string, Json> }>>;
    const operation = paths[path]?.[method];
    assert.ok(operation, `${method.toUpperCase()} ${path} is not in the document`);
    const key = [String(status), `${String(status)[0]}XX`, 'default'].find((k) => operation.responses[k] !== undefined);
    assert.ok(key, `${where}: status ${status} is not documented (documented: ${Object.keys(operation.responses).join(', ')}); body ${text.slice(0, 300)}`);
    let response = operation.responses[key]!;
    let pointer = `/paths/${escapePointer(path)}/${method}/responses/${key}`;
    if (typeof response.$ref === 'string') {
      const name = response.$ref.replace('#/components/responses/', '');
      response = (this.doc.components as { responses: Record<string, Json> }).responses[name]!;
      assert.ok(response, `${where}: ${String(operation.responses[key]!.$ref)} does not exist`);
      pointer = `/components/responses/${escapePointer(name)}`;
    }
    const seen = this.seen.get(`${method} ${path}`) ?? new Set<number>();
    seen.add(status);
    this.seen.set(`${method} ${path}`, seen);
    const content = response.content as Record<string, Json> | undefined;
    if (text === '' && (!content || status === 204 || status === 304)) return undefined;
    assert.ok(content, `${where}: the document says no body, the answer has one (${contentType}): ${text.slice(0, 200)}`);
    const media = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
    assert.ok(content[media], `${where}: content type "${media}" is not documented (documented: ${Object.keys(content).join(', ')})`);
    const body = media === 'application/json' || media.endsWith('+json') ? JSON.parse(text) as unknown : text;
    if (content[media]!.schema === undefined) return body;
    const schemaPointer = `${pointer}/content/${escapePointer(media)}/schema`;
    let validate = this.validators.get(schemaPointer);
    if (!validate) {
      validate = this.ajv.compile({ $ref: `${docId}#${schemaPointer}` });
      this.validators.set(schemaPointer, validate);
    }
    if (!validate(body)) {
      assert.fail(`${where} (${media}) does not match the document: ${this.ajv.errorsText(validate.errors, { separator: '\n  ' })}\nbody: ${text.slice(0, 1500)}`);
    }
    return body;
  }
}
