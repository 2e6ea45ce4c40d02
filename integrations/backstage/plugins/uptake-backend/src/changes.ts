import type { CatalogState } from './catalogState';
import { chainedId, type UptakeEvent } from './events';
import type { StateRow } from './outbox';

/**
 * The events that bring Uptake from what was last sent (`sent`) to the
 * catalog as it is now (`now`), and the state rows to record with them.
 * Nothing is sent for what did not change.
 */
export function changes(
  now: CatalogState,
  sent: Map<string, StateRow>,
  org: string,
  time: string,
): { events: UptakeEvent[]; rows: StateRow[] } {
  const events: UptakeEvent[] = [];
  const rows: StateRow[] = [];
  const record = (
    key: string,
    fingerprint: string,
    present: boolean,
    make: () => { type: string; [field: string]: unknown },
  ) => {
    const before = sent.get(key);
    if (before && before.fingerprint === fingerprint && before.present === present) {
      return;
    }
    if (!before && !present) {
      return;
    }
    const [what, ...rest] = key.split(':');
    const id = chainedId(what, rest.join(':'), before?.last_id, `${present}\n${fingerprint}`);
    events.push({ ...make(), id, org, time });
    rows.push({ key, fingerprint, last_id: id, present });
  };

  // Data sources first, so that a new source exists when entities count in it.
  for (const [id, source] of now.sources) {
    record(`source:${id}`, JSON.stringify(source), true, () => ({
      type: 'data_source_created',
      data_source: id,
      data_source_type: source.data_source_type,
      name: source.name,
    }));
  }
  // What was sent as present under `prefix` and is gone now.
  const gone = (prefix: string, present: Map<string, unknown>) =>
    [...sent]
      .filter(([key, row]) => key.startsWith(prefix) && row.present && !present.has(key.slice(prefix.length)))
      .map(([key, row]) => ({ key, row, id: key.slice(prefix.length) }));

  for (const { key, row, id } of gone('source:', now.sources)) {
    record(key, row.fingerprint, false, () => ({ type: 'data_source_deleted', data_source: id }));
  }

  record('snapshot:entities', JSON.stringify(now.counts), true, () => ({
    type: 'entity_snapshot',
    counts: now.counts,
  }));

  for (const [user, member] of now.members) {
    record(`member:${user}`, JSON.stringify(member), true, () => ({
      type: 'member_upserted',
      user,
      role: member.role,
      ...(member.name ? { name: member.name } : {}),
      ...(member.email ? { email: member.email } : {}),
      teams: member.teams,
    }));
  }
  for (const { key, row, id } of gone('member:', now.members)) {
    record(key, row.fingerprint, false, () => ({ type: 'member_removed', user: id }));
  }
  return { events, rows };
}
