import { z } from 'zod';
import { errorCatalogue, type ErrorCode } from '../../errors.js';
import { responseBody } from './registry.js';

/** Timestamps the API writes: `Date.prototype.toISOString()`, always UTC. */
export const timestamp = z.iso.datetime();

const errorCodes = Object.keys(errorCatalogue) as [ErrorCode, ...ErrorCode[]];

/**
 * One error as every answer and record carries it: a code of the error catalogue, a message for
 * people, details for programs. Not a component of its own: Error shows it inline.
 */
export const errorBody = z.object({
  code: z.enum(errorCodes),
  message: z.string(),
  details: z.unknown().optional(),
});

export const errorResponse = responseBody('Error', z.object({ error: errorBody }), 'Every error answer: {"error": {"code", "message", "details"}}');
export type ErrorResponse = z.output<typeof errorResponse>;
