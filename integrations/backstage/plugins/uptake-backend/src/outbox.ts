import type { Knex } from 'knex';
import type { UptakeEvent } from './events';

/**
 * The plugin's two tables in its own database:
 *
 * - `uptake_outbox` holds every event not yet acknowledged by Uptake, so
 *   that nothing is lost while Uptake is down or Backstage restarts; a row
 *   goes only once Uptake answered 200 for it.
 * - `uptake_state` holds what was last sent about each member, data source
 *   and the entity snapshot, so that only changes are sent, also after a
 *   restart, and a replica sees what another one sent.
 *
 * A change is written to both tables in one transaction.
 */
export class Outbox {
  private constructor(private readonly db: Knex) {}

  static async create(db: Knex): Promise<Outbox> {
    if (!(await db.schema.hasTable('uptake_outbox'))) {
      await db.schema.createTable('uptake_outbox', table => {
        table.increments('seq');
        table.string('event_id', 128).notNullable().unique();
        table.text('body').notNullable();
      });
    }
    if (!(await db.schema.hasTable('uptake_state'))) {
      await db.schema.createTable('uptake_state', table => {
        table.string('key', 600).primary();
        table.text('fingerprint').notNullable();
        table.string('last_id', 128).notNullable();
        table.boolean('present').notNullable();
      });
    }
    return new Outbox(db);
  }

  /** Queues events; an id already queued is kept once. */
  async enqueue(events: UptakeEvent[], trx?: Knex.Transaction): Promise<void> {
    const db = trx ?? this.db;
    for (let i = 0; i < events.length; i += 200) {
      const rows = events.slice(i, i + 200).map(event => ({
        event_id: event.id,
        body: JSON.stringify(event),
      }));
      await db('uptake_outbox').insert(rows).onConflict('event_id').ignore();
    }
  }

  /** The oldest queued events, at most `limit`. */
  async peek(limit: number): Promise<{ seq: number; event: UptakeEvent }[]> {
    const rows: { seq: number; body: string }[] = await this.db('uptake_outbox')
      .select('seq', 'body')
      .orderBy('seq')
      .limit(limit);
    return rows.map(row => ({ seq: Number(row.seq), event: JSON.parse(row.body) }));
  }

  async remove(seqs: number[]): Promise<void> {
    for (let i = 0; i < seqs.length; i += 500) {
      await this.db('uptake_outbox').whereIn('seq', seqs.slice(i, i + 500)).delete();
    }
  }

  async pending(): Promise<number> {
    const [{ n }] = await this.db('uptake_outbox').count({ n: '*' });
    return Number(n);
  }

  async readState(): Promise<Map<string, StateRow>> {
    const rows: StateRow[] = await this.db('uptake_state').select();
    return new Map(
      rows.map(row => [row.key, { ...row, present: Boolean(row.present) }]),
    );
  }

  /** Queues `events` and records `state` as sent, together or not at all. */
  async commit(events: UptakeEvent[], state: StateRow[]): Promise<void> {
    await this.db.transaction(async trx => {
      await this.enqueue(events, trx);
      for (const row of state) {
        await trx('uptake_state').insert(row).onConflict('key').merge();
      }
    });
  }
}

export interface StateRow {
  key: string;
  fingerprint: string;
  last_id: string;
  present: boolean;
}
