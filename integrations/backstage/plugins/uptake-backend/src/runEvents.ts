import { createServiceFactory, createServiceRef } from '@backstage/backend-plugin-api';
import type { UptakeEvent } from './events';

/** Events kept while the plugin has not started yet; beyond, they are dropped. */
const MAX_WAITING = 10_000;

/**
 * Hands scaffolder runs and MCP tool calls, seen by the auditor of other
 * plugins, to the Uptake plugin, which writes them to its outbox. The
 * auditor lives in every plugin while the outbox lives in the Uptake
 * plugin's database, so this root service joins the two.
 */
export class RunEvents {
  private waiting: UptakeEvent[] = [];
  private sink: ((event: UptakeEvent) => void) | undefined;
  private dropped = 0;

  push(event: UptakeEvent): void {
    if (this.sink) {
      this.sink(event);
    } else if (this.waiting.length < MAX_WAITING) {
      this.waiting.push(event);
    } else {
      this.dropped += 1;
    }
  }

  /** From now on every event goes to `sink`, the waiting ones first. */
  attach(sink: (event: UptakeEvent) => void): number {
    this.sink = sink;
    const waiting = this.waiting;
    this.waiting = [];
    waiting.forEach(sink);
    return this.dropped;
  }
}

export const runEventsServiceRef = createServiceRef<RunEvents>({
  id: 'uptake.run-events',
  scope: 'root',
  defaultFactory: async service =>
    createServiceFactory({
      service,
      deps: {},
      factory: () => new RunEvents(),
    }),
});
