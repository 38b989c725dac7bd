import { uploadTar, waitForVersion } from '../../support/client.js';
import { brokenTarGz, tokenizerTarGz, tokenizerV2TarGz } from './models.js';

export interface Seeded {
  tokenizer: string;
  broken: string;
  batchId: string;
}

/**
 * Demo data through the real API: a tokenizer with a breaking second version, a broken model,
 * and a batch with one rejected item. Names carry `suffix` so runs never collide.
 */
export async function seed(base: string, suffix: string): Promise<Seeded> {
  const tokenizer = `tokenizer-${suffix}`;
  const broken = `broken-${suffix}`;
  const v1 = await uploadTar(base, tokenizer, await tokenizerTarGz(), { gzip: true });
  if (v1.status !== 202) throw new Error(`seed upload failed: ${JSON.stringify(v1.body)}`);
  await waitForVersion(base, tokenizer, 1);
  await uploadTar(base, tokenizer, await tokenizerV2TarGz(), { gzip: true });
  await uploadTar(base, broken, await brokenTarGz(), { gzip: true });
  await waitForVersion(base, tokenizer, 2);
  await waitForVersion(base, broken, 1);

  const form = new FormData();
  form.append(`batch-a-${suffix}`, new Blob([new Uint8Array(await tokenizerTarGz())]), 'a.tar.gz');
  form.append(`batch-b-${suffix}`, new Blob([new Uint8Array(await brokenTarGz())]), 'b.tar.gz');
  form.append('Not A Name', new Blob([new Uint8Array(await tokenizerTarGz())]), 'c.tar.gz');
  const res = await fetch(`${base}/api/v1/batches`, { method: 'POST', body: form });
  const batch = (await res.json()) as { id: string };
  if (res.status !== 202) throw new Error(`seed batch failed: ${JSON.stringify(batch)}`);
  return { tokenizer, broken, batchId: batch.id };
}
