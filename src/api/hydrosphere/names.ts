import { assertModelName } from '../../domain/model-name.js';

/** A Hydrosphere model name as our model name. */
export function modelNameFromHydrosphere(name: string): string {
  return assertModelName(name);
}
