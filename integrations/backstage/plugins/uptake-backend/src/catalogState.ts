import type { Entity } from '@backstage/catalog-model';
import { normalizeRef, type UptakeConfig } from './config';

/**
 * What the catalog says at one instant, in Uptake's terms: the entity
 * counts per kind and source, the data sources, and the members. Computed
 * from the entities alone, so that every replica and every restart
 * computes the same thing.
 */
export interface CatalogState {
  /** Sorted by blueprint, then data source. */
  counts: { blueprint: string; data_source: string; count: number }[];
  /** Keyed by the data source id. */
  sources: Map<string, { data_source_type: string; name: string }>;
  /** Keyed by the Uptake user id. */
  members: Map<string, Member>;
}

export interface Member {
  role: 'admin' | 'member';
  name?: string;
  email?: string;
  teams: string[];
}

/** Uptake takes at most 50 teams per member. */
const MAX_TEAMS = 50;

/** Public hosts of the integrations Backstage ships with. */
const PUBLIC_HOSTS: Record<string, string> = {
  'github.com': 'github',
  'gitlab.com': 'gitlab',
  'bitbucket.org': 'bitbucket',
  'dev.azure.com': 'azure',
};

export interface Source {
  id: string;
  type: string;
  name: string;
}

/**
 * Where an entity comes from, from the location its provider or
 * processor recorded (`backstage.io/managed-by-origin-location`, e.g.
 * `url:https://github.com/acme/svc/blob/main/catalog-info.yaml`):
 * a URL on a known integration host is that integration (`github`, or
 * `github:ghe.acme.com` for a host configured under `integrations`), any
 * other URL is `url:<host>`, and every other location type is the type
 * itself (`file`, or what an entity provider writes, such as `msgraph`).
 */
export function sourceOf(
  entity: Entity,
  integrationHosts: Map<string, string>,
): Source {
  const annotations = entity.metadata.annotations ?? {};
  const location =
    annotations['backstage.io/managed-by-origin-location'] ??
    annotations['backstage.io/managed-by-location'];
  if (!location) {
    return { id: 'unknown', type: 'unknown', name: 'No recorded location' };
  }
  const colon = location.indexOf(':');
  const type = (colon > 0 ? location.slice(0, colon) : location).toLowerCase();
  const target = colon > 0 ? location.slice(colon + 1) : '';
  if (type !== 'url') {
    return { id: type, type, name: type === 'file' ? 'Local files' : type };
  }
  let host: string;
  try {
    host = new URL(target).hostname.toLowerCase();
  } catch {
    return { id: 'url', type: 'url', name: 'URL' };
  }
  const publicKind = PUBLIC_HOSTS[host];
  if (publicKind) {
    return { id: publicKind, type: publicKind, name: host };
  }
  const kind = integrationHosts.get(host);
  if (kind) {
    return { id: `${kind}:${host}`, type: kind, name: host };
  }
  return { id: `url:${host}`, type: 'url', name: host };
}

/** A team as Uptake shows it: the group's name, with its namespace unless `default`. */
function teamName(groupRef: string): string {
  const ref = normalizeRef(groupRef, 'group');
  const [, path] = ref.split(':', 2);
  const [namespace, name] = path.split('/', 2);
  return namespace === 'default' ? name : `${namespace}/${name}`;
}

function entityRef(entity: Entity): string {
  const namespace = entity.metadata.namespace ?? 'default';
  return `${entity.kind}:${namespace}/${entity.metadata.name}`.toLowerCase();
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

export function memberOf(
  entity: Entity,
  config: UptakeConfig,
): { user: string; member: Member } | undefined {
  const spec = (entity.spec ?? {}) as {
    profile?: { displayName?: unknown; email?: unknown };
    memberOf?: unknown;
  };
  const email = nonEmpty(spec.profile?.email);
  const user = config.userId === 'email' ? email : entityRef(entity);
  if (!user) {
    return undefined;
  }
  const groups = Array.isArray(spec.memberOf)
    ? spec.memberOf.filter((g): g is string => typeof g === 'string' && g !== '')
    : [];
  const admin = groups.some(g =>
    config.adminGroups.includes(normalizeRef(g, 'group')),
  );
  const teams = [...new Set(groups.map(teamName))].sort().slice(0, MAX_TEAMS);
  return {
    user,
    member: {
      role: admin ? 'admin' : 'member',
      name: nonEmpty(spec.profile?.displayName),
      email,
      teams,
    },
  };
}

export function catalogState(
  entities: Iterable<Entity>,
  config: UptakeConfig,
  integrationHosts: Map<string, string>,
): CatalogState {
  const counts = new Map<string, number>();
  const sources = new Map<string, { data_source_type: string; name: string }>();
  const members = new Map<string, Member>();
  for (const entity of entities) {
    const kind = entity.kind.toLowerCase();
    if (kind === 'user') {
      const found = memberOf(entity, config);
      if (found) {
        members.set(found.user, found.member);
      }
    }
    if (config.excludeKinds.includes(kind)) {
      continue;
    }
    const source = sourceOf(entity, integrationHosts);
    sources.set(source.id, { data_source_type: source.type, name: source.name });
    const key = `${kind}\n${source.id}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return {
    counts: [...counts.entries()]
      .map(([key, count]) => {
        const [blueprint, data_source] = key.split('\n');
        return { blueprint, data_source, count };
      })
      .sort((a, b) =>
        a.blueprint === b.blueprint
          ? compare(a.data_source, b.data_source)
          : compare(a.blueprint, b.blueprint),
      ),
    sources,
    members,
  };
}

function compare(a: string, b: string): number {
  if (a < b) return -1;
  return a > b ? 1 : 0;
}
