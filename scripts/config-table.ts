// Prints the README's configuration table from the schema (src/config.ts):
//   node --import tsx scripts/config-table.ts
// test/docs/readme.unit.test.ts fails when README.md and the schema disagree.
import { configDocs } from '../src/config.js';

export function configTable(): string {
  const rows = configDocs.map((d) => `| \`${d.env}\` | ${d.default === '(unset)' ? '—' : `\`${d.default}\``} | ${d.description.replace(/\|/g, '\\|')} |`);
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(configTable());
