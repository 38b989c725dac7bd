import type { ModelSummary } from '../catalog/catalog.js';
import type { VersionRecord } from '../domain/version.js';
import type { ModelBody } from './schemas/models.js';
import type { VersionBody } from './schemas/versions.js';

/** The version record as the API shows it, with links. */
export function presentVersion(record: VersionRecord, baseUrl: string): VersionBody {
  const url = `${baseUrl}/api/v1/models/${record.model}/versions/${record.version}`;
  return { ...record, url, links: { contract: `${url}/contract`, events: `${url}/events`, model: `${baseUrl}/api/v1/models/${record.model}` } };
}

export function presentModel(summary: ModelSummary, baseUrl: string): ModelBody {
  const url = `${baseUrl}/api/v1/models/${summary.name}`;
  return { ...summary, url, links: { versions: `${url}/versions` } };
}
