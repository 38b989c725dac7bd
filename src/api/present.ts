import type { ModelSummary } from '../catalog/catalog.js';
import type { VersionRecord } from '../domain/version.js';

/** The version record as the API shows it, with links. */
export function presentVersion(record: VersionRecord, baseUrl: string) {
  const url = `${baseUrl}/api/v1/models/${record.model}/versions/${record.version}`;
  return { ...record, url, links: { contract: `${url}/contract`, events: `${url}/events`, model: `${baseUrl}/api/v1/models/${record.model}` } };
}

export function presentModel(summary: ModelSummary, baseUrl: string) {
  const url = `${baseUrl}/api/v1/models/${summary.name}`;
  return { ...summary, url, links: { versions: `${url}/versions` } };
}
