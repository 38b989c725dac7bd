import type { Warning } from '../domain/version.js';

/** One broken rule of a document: the file, the path inside it, what was expected, what was found. */
export interface DocumentIssue {
  file: string;
  path: string;
  expected: string;
  found: string;
}

/** Collects every issue and warning of one document, so that all of them are reported together. */
export class Report {
  readonly issues: DocumentIssue[] = [];
  readonly warnings: Warning[] = [];

  constructor(readonly file: string) {}

  issue(path: string, expected: string, found: string): void {
    this.issues.push({ file: this.file, path, expected, found });
  }

  warn(code: string, message: string, details?: unknown): void {
    this.warnings.push(details === undefined ? { code, message } : { code, message, details });
  }
}

/** A short, printable rendering of a value found in a document. */
export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (v instanceof Map) return 'a mapping';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  return String(v);
}

/** `base.key`, or `base["odd key"]` for keys that are not plain names. */
export function childPath(base: string, key: string): string {
  const seg = /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? key : JSON.stringify(key);
  if (base === '') return seg;
  return seg.startsWith('"') ? `${base}[${seg}]` : `${base}.${seg}`;
}

/** A field or signature name: printable, no spaces or control characters. */
export function isPlainName(name: string): boolean {
  return name !== '' && name.length <= 256 && !/[\s\p{Cc}]/u.test(name);
}
