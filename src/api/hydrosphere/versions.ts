import type { Catalog } from '../../catalog/catalog.js';
import type { VersionRecord } from '../../domain/version.js';
import { isMllError, MllError } from '../../errors.js';
import type { HydrosphereIds, HydrosphereModel, VersionRef } from '../../hydrosphere/ids.js';
import type { HydrosphereVersion } from './present.js';

/** The Hydrosphere id and name a version's record carries when it was uploaded through a Hydrosphere route. */
export function originOf(record: VersionRecord): { id: number | undefined; name: string | undefined } {
  const origin = record.client?.origin;
  const id = origin?.id !== undefined && /^[1-9][0-9]*$/.test(origin.id) ? Number(origin.id) : undefined;
  return { id, name: origin?.name ?? record.displayName };
}

/** Versions as Hydrosphere's routes address them: by integer id, or by model name and number. */
export class HydrosphereVersions {
  constructor(
    private readonly catalog: Catalog,
    private readonly ids: HydrosphereIds,
  ) {}

  /** The version a Hydrosphere id names; 404 in the words of the route that asked. */
  async byId(id: number, what: string): Promise<HydrosphereVersion> {
    const ref = await this.ids.resolve(id);
    if (!ref) throw new MllError('NOT_FOUND', `No ${what} with id ${id}`, { details: { id } });
    return this.view(await this.catalog.get(ref.model, ref.version), id);
  }

  /** A version by our model name and number; it gets a Hydrosphere id if it has none yet. */
  async byName(model: string, version: number): Promise<HydrosphereVersion> {
    return this.ofRecord(await this.catalog.get(model, version));
  }

  async ofRecord(record: VersionRecord): Promise<HydrosphereVersion> {
    const ref: VersionRef = { model: record.model, version: record.version };
    return this.view(record, await this.ids.ensureVersion(ref, originOf(record).id));
  }

  /** The version as Hydrosphere shows it if it already has an id, else null (nothing is assigned). */
  async known(record: VersionRecord): Promise<HydrosphereVersion | null> {
    const ref: VersionRef = { model: record.model, version: record.version };
    const id = (await this.ids.idOf(ref)) ?? originOf(record).id;
    return id === undefined ? null : this.ofRecord(record);
  }

  /**
   * Every version, oldest id first. A version that has no Hydrosphere id yet (uploaded through our
   * own API and never shown by these routes) gets one here: hydrosdk finds versions only in this list.
   */
  async list(): Promise<HydrosphereVersion[]> {
    await this.giveIdsToAll();
    const entries = await this.ids.listVersions();
    // One round trip; if a record is gone (an id whose version was never made), one by one without it.
    const records: (VersionRecord | null)[] = await this.catalog.getMany(entries.map((e) => e.ref)).catch(() =>
      Promise.all(entries.map((e) => this.catalog.get(e.ref.model, e.ref.version).catch((err: unknown) => {
        if (isMllError(err) && (err.code === 'VERSION_NOT_FOUND' || err.code === 'MODEL_NOT_FOUND')) return null;
        throw err;
      }))));
    const models = new Map<string, Promise<HydrosphereModel>>();
    const views = await Promise.all(records.map(async (record, i) => {
      if (!record) return null;
      let model = models.get(record.model);
      if (!model) models.set(record.model, (model = this.modelOf(record)));
      return { id: entries[i]!.id, model: await model, record };
    }));
    return views.filter((v): v is HydrosphereVersion => v !== null);
  }

  private async giveIdsToAll(): Promise<void> {
    const [refs, withIds] = await Promise.all([this.catalog.listVersionRefs(), this.ids.listVersions()]);
    const known = new Set(withIds.map((e) => `${e.ref.model}/${e.ref.version}`));
    const missing = refs.filter((r) => !known.has(`${r.model}/${r.version}`));
    // A few at a time, in catalogue order; the record is read for an id its upload claimed but did not bind.
    for (let i = 0; i < missing.length; i += 8) {
      await Promise.all(missing.slice(i, i + 8).map(async (ref) => {
        const record = await this.catalog.get(ref.model, ref.version).catch((err: unknown) => {
          if (isMllError(err) && (err.code === 'VERSION_NOT_FOUND' || err.code === 'MODEL_NOT_FOUND')) return null;
          throw err;
        });
        if (record) await this.ids.ensureVersion(ref, originOf(record).id);
      }));
    }
  }

  private modelOf(record: VersionRecord): Promise<HydrosphereModel> {
    return this.ids.ensureModel(record.model, originOf(record).name ?? record.model);
  }

  private async view(record: VersionRecord, id: number): Promise<HydrosphereVersion> {
    return { id, model: await this.modelOf(record), record };
  }
}
