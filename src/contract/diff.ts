import type { FieldChange } from '../domain/version.js';
import type { Contract, ContractField, ContractSignature } from './types.js';

/**
 * What changed between two contracts of the same model, from a client's point of view.
 * Breaking: a signature removed; an input added; an output removed; a dtype changed; an input
 * shape that accepts less than before; an output shape that may produce something the old one
 * did not allow. Not breaking: a signature or output added, an input removed (clients may keep
 * sending it), widened input shapes, narrowed output shapes, dim names, profiles, field order.
 */

export type ChangeKind =
  | 'framework-changed'
  | 'signature-added'
  | 'signature-removed'
  | 'field-added'
  | 'field-removed'
  | 'dtype-changed'
  | 'shape-changed'
  | 'dim-names-changed'
  | 'profile-changed';

type Direction = 'input' | 'output';

/** Every array `narrow` can be is also allowed by `wide` (same rank, -1 in `wide` matches any size). */
export function shapeAccepts(wide: number[] | null, narrow: number[] | null): boolean {
  if (wide === null) return true;
  if (narrow === null) return false;
  if (wide.length !== narrow.length) return false;
  return wide.every((d, i) => d === -1 || d === narrow[i]);
}

function sameShape(a: number[] | null, b: number[] | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function sameNames(a: ContractField['dimNames'], b: ContractField['dimNames']): boolean {
  const x = a ?? [];
  const y = b ?? [];
  return x.length === y.length && x.every((n, i) => n === y[i]);
}

/** Fields of records compare by their path (`person.age`), as if they were fields of the signature. */
function compareFields(sig: string, direction: Direction, before: ContractField[], after: ContractField[], out: FieldChange[], prefix = ''): void {
  const old = new Map(before.map((f) => [prefix + f.name, f]));
  const now = new Map(after.map((f) => [prefix + f.name, f]));
  for (const [name, f] of old) {
    if (!now.has(name)) {
      out.push({ signature: sig, field: name, direction, change: 'field-removed', before: f, breaking: direction === 'output' });
    }
  }
  for (const [name, a] of now) {
    const b = old.get(name);
    if (!b) {
      out.push({ signature: sig, field: name, direction, change: 'field-added', after: a, breaking: direction === 'input' });
      continue;
    }
    if (a.dtype !== b.dtype) {
      out.push({ signature: sig, field: name, direction, change: 'dtype-changed', before: b.dtype, after: a.dtype, breaking: true });
    } else if (a.subfields || b.subfields) {
      compareFields(sig, direction, b.subfields ?? [], a.subfields ?? [], out, `${name}.`);
    }
    if (!sameShape(a.shape, b.shape)) {
      const compatible = direction === 'input' ? shapeAccepts(a.shape, b.shape) : shapeAccepts(b.shape, a.shape);
      out.push({ signature: sig, field: name, direction, change: 'shape-changed', before: b.shape, after: a.shape, breaking: !compatible });
    }
    if (!sameNames(a.dimNames, b.dimNames)) {
      out.push({ signature: sig, field: name, direction, change: 'dim-names-changed', before: b.dimNames ?? null, after: a.dimNames ?? null, breaking: false });
    }
    if ((a.profile ?? 'none') !== (b.profile ?? 'none')) {
      out.push({ signature: sig, field: name, direction, change: 'profile-changed', before: b.profile ?? null, after: a.profile ?? null, breaking: false });
    }
  }
}

export function diffContracts(before: Contract, after: Contract): { breaking: boolean; changes: FieldChange[] } {
  const changes: FieldChange[] = [];
  if (before.framework !== after.framework) {
    changes.push({ signature: '', change: 'framework-changed', before: before.framework, after: after.framework, breaking: false });
  }
  const old = new Map<string, ContractSignature>(before.signatures.map((s) => [s.name, s]));
  const now = new Map<string, ContractSignature>(after.signatures.map((s) => [s.name, s]));
  for (const [name] of old) {
    if (!now.has(name)) changes.push({ signature: name, change: 'signature-removed', breaking: true });
  }
  for (const [name, s] of now) {
    const b = old.get(name);
    if (!b) {
      changes.push({ signature: name, change: 'signature-added', breaking: false });
      continue;
    }
    compareFields(name, 'input', b.inputs, s.inputs, changes);
    compareFields(name, 'output', b.outputs, s.outputs, changes);
  }
  return { breaking: changes.some((c) => c.breaking), changes };
}
