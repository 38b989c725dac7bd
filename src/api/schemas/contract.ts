import { z } from 'zod';
import { dtypeNames, profileNames, SUBFIELDS, type ContractField } from '../../contract/types.js';
import { responseBody } from './registry.js';

export const dtype = z.union([z.enum([...dtypeNames, SUBFIELDS]), z.templateLiteral(['unsupported:', z.string()])]);

export const contractField: z.ZodType<ContractField> = responseBody('ContractField', z.object({
  name: z.string(),
  dtype,
  shape: z.array(z.number().int().min(-1)).nullable().describe('null: unknown rank; []: scalar; -1: unknown size'),
  dimNames: z.array(z.string().nullable()).optional(),
  profile: z.enum(profileNames).optional(),
  get subfields() {
    return z.array(contractField).optional().describe('The fields of a record (dtype subfields), in order');
  },
}));

export const contractSignature = responseBody('ContractSignature', z.object({
  name: z.string(),
  inputs: z.array(contractField),
  outputs: z.array(contractField),
}));

export const contract = responseBody('Contract', z.object({
  framework: z.string(),
  signatures: z.array(contractSignature),
}), 'The contract in its JSON form (CONTRACT.md)');

/** GET …/contract as JSON: the contract with the version it belongs to and its digest. */
export const versionContract = responseBody('VersionContract', contract.extend({
  model: z.string(),
  version: z.number().int(),
  digest: z.string(),
}));
export type VersionContractBody = z.output<typeof versionContract>;
