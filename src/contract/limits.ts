/**
 * Bounds on a contract, whatever it is read from (serving.yaml, contract.prototxt, a client's
 * binary or JSON contract): a hostile document fails with a clear error instead of exhausting
 * memory or the stack.
 */
export const MAX_CONTRACT_FIELDS = 10_000;
/** Levels of subfields below a signature's field (a record inside a record inside …). */
export const MAX_SUBFIELD_DEPTH = 10;
export const MAX_RANK = 64;
export const MAX_SIGNATURES = 1_000;
