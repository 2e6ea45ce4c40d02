import type { Config } from '@backstage/config';

/** The plugin's settings, read once from `uptake` in app-config.yaml. */
export interface UptakeConfig {
  /** Uptake's address without a trailing slash. */
  baseUrl: string;
  org: string;
  apiKey: string;
  userId: 'entityRef' | 'email';
  /** Full, lower-cased group refs (`group:default/admins`). */
  adminGroups: string[];
  frequencyMinutes: number;
  /** Lower-cased kinds. */
  excludeKinds: string[];
}

const ORG = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export function readUptakeConfig(root: Config): UptakeConfig {
  const config = root.getConfig('uptake');
  const baseUrl = config.getString('baseUrl').replace(/\/+$/, '');
  if (!/^https?:\/\//.test(baseUrl)) {
    throw new Error(
      `uptake.baseUrl must start with http:// or https://, got "${baseUrl}"`,
    );
  }
  const org = config.getString('org');
  if (!ORG.test(org)) {
    throw new Error(
      `uptake.org must be an Uptake org slug (lower-case letters, digits, - and _), got "${org}"`,
    );
  }
  const userId = config.getOptionalString('userId') ?? 'entityRef';
  if (userId !== 'entityRef' && userId !== 'email') {
    throw new Error(
      `uptake.userId must be "entityRef" or "email", got "${userId}"`,
    );
  }
  const frequencyMinutes =
    config.getOptionalNumber('catalog.frequencyMinutes') ?? 10;
  if (!(frequencyMinutes > 0)) {
    throw new Error(
      `uptake.catalog.frequencyMinutes must be a positive number, got ${frequencyMinutes}`,
    );
  }
  return {
    baseUrl,
    org,
    apiKey: config.getString('apiKey'),
    userId,
    adminGroups: (config.getOptionalStringArray('adminGroups') ?? []).map(ref =>
      normalizeRef(ref, 'group'),
    ),
    frequencyMinutes,
    excludeKinds: (
      config.getOptionalStringArray('catalog.excludeKinds') ?? ['Location']
    ).map(kind => kind.toLowerCase()),
  };
}

/** `admins` and `Group:default/Admins` both become `group:default/admins`. */
export function normalizeRef(ref: string, defaultKind: string): string {
  let kind = defaultKind;
  let rest = ref;
  const colon = ref.indexOf(':');
  if (colon > 0 && !ref.slice(0, colon).includes('/')) {
    kind = ref.slice(0, colon);
    rest = ref.slice(colon + 1);
  }
  const [namespace, name] = rest.includes('/')
    ? rest.split('/', 2)
    : ['default', rest];
  return `${kind}:${namespace}/${name}`.toLowerCase();
}
