import { createHash, randomBytes } from 'node:crypto';

/** Ids carry no `.` (Standard Webhooks signs `id.timestamp.body`) and are safe as BullMQ job ids. */
export const newEndpointId = () => `wh_${randomBytes(10).toString('hex')}`;

/** A repeated emit of the same thing (same key) gets the same event id, so receivers and we can dedupe. */
export function eventId(scope: string, key?: string): string {
  if (key === undefined) return `evt_${randomBytes(12).toString('hex')}`;
  return `evt_${createHash('sha256').update(`${scope}\n${key}`).digest('hex').slice(0, 24)}`;
}

export function deliveryId(eventId: string, endpointId: string): string {
  return `dlv_${createHash('sha256').update(`${eventId}\n${endpointId}`).digest('hex').slice(0, 24)}`;
}
