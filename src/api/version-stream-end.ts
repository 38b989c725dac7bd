import type { Catalog } from '../catalog/catalog.js';
import { terminalStatuses, type VersionEvent } from '../domain/version.js';

/** How long after a version turned terminal its stream waits for the terminal event before it ends anyway. */
const terminalEventGraceMs = 2000;

/**
 * When a stream of one version's events may end. A version's record shows its terminal status a
 * moment before its terminal event is in the stream (the record is written, then the event
 * appended): the stream ends once it has passed that event on, or once the record has been
 * terminal long enough for it to have come (a stream resumed after it, or an event lost with
 * Redis), so a follower never misses the last line.
 */
export class VersionStreamEnd {
  private terminalSeen = false;

  constructor(
    private readonly catalog: Pick<Catalog, 'get'>,
    private readonly model: string,
    private readonly version: number,
  ) {}

  /** Called with every event the stream passes on. */
  saw(event: VersionEvent): void {
    if (event.type === 'status' && event.status && terminalStatuses.has(event.status)) this.terminalSeen = true;
  }

  async finished(): Promise<boolean> {
    const now = await this.catalog.get(this.model, this.version);
    return terminalStatuses.has(now.status) && (this.terminalSeen || Date.now() - Date.parse(now.updatedAt) > terminalEventGraceMs);
  }
}
