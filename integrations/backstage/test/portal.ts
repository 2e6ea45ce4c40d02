/**
 * A Backstage backend for the tests, built from the real packages a
 * Backstage app runs: the catalog, the scaffolder, the proxy, the MCP
 * actions backend (with one action to call) and Uptake's plugin, over real SQLite databases in a directory (so that it can be
 * restarted with its state), with the real scheduler. Its catalog holds
 * the entities of `catalog/catalog-info.yaml` (a file location) and those
 * of an entity provider the test changes at will (users and groups, and
 * components from two git hosts).
 */
import { createBackendModule, createBackendPlugin } from '@backstage/backend-plugin-api';
import { actionsRegistryServiceRef } from '@backstage/backend-plugin-api/alpha';
import { actionsRegistryServiceFactory, actionsServiceFactory } from '@backstage/backend-defaults/alpha';
import mcpActionsPlugin from '@backstage/plugin-mcp-actions-backend';
import { databaseServiceFactory } from '@backstage/backend-defaults/database';
import { schedulerServiceFactory } from '@backstage/backend-defaults/scheduler';
import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import type { Entity } from '@backstage/catalog-model';
import {
  catalogProcessingExtensionPoint,
  type EntityProvider,
  type EntityProviderConnection,
} from '@backstage/plugin-catalog-node';
import { createTemplateAction, scaffolderActionsExtensionPoint } from '@backstage/plugin-scaffolder-node';
import catalogPlugin from '@backstage/plugin-catalog-backend';
import scaffolderEntityModel from '@backstage/plugin-catalog-backend-module-scaffolder-entity-model';
import proxyPlugin from '@backstage/plugin-proxy-backend';
import scaffolderPlugin from '@backstage/plugin-scaffolder-backend';
import uptakeBackend from '@uptake/backstage-plugin-uptake-backend';
import { join } from 'node:path';
import type { Uptake } from './uptake';

/** The entity provider of the test portal: what a GitHub org provider would give. */
export class TestProvider implements EntityProvider {
  private connection: EntityProviderConnection | undefined;
  constructor(private entities: Entity[]) {}

  getProviderName(): string {
    return 'uptake-test-provider';
  }

  async connect(connection: EntityProviderConnection): Promise<void> {
    this.connection = connection;
    await this.apply();
  }

  /** Replaces every entity the provider gives, as a full refresh does. */
  async set(entities: Entity[]): Promise<void> {
    this.entities = entities;
    await this.apply();
  }

  private async apply(): Promise<void> {
    await this.connection?.applyMutation({
      type: 'full',
      entities: this.entities.map(entity => ({ entity, locationKey: 'uptake-test-provider' })),
    });
  }
}

const ORIGIN = 'backstage.io/managed-by-origin-location';

export function user(name: string, displayName: string, groups: string[]): Entity {
  const location = 'url:https://github.com/acme';
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'User',
    metadata: {
      name,
      annotations: { 'backstage.io/managed-by-location': location, [ORIGIN]: location },
    },
    spec: { profile: { displayName, email: `${name}@acme.test` }, memberOf: groups },
  };
}

export function group(name: string): Entity {
  const location = 'url:https://github.com/acme';
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Group',
    metadata: {
      name,
      annotations: { 'backstage.io/managed-by-location': location, [ORIGIN]: location },
    },
    spec: { type: 'team', children: [] },
  };
}

export function component(name: string, url: string): Entity {
  const location = `url:${url}`;
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: {
      name,
      annotations: { 'backstage.io/managed-by-location': location, [ORIGIN]: location },
    },
    spec: { type: 'service', lifecycle: 'production', owner: 'group:default/platform' },
  };
}

/** A scaffolder action that always fails, for a run with outcome `failure`. */
const failingAction = createBackendModule({
  pluginId: 'scaffolder',
  moduleId: 'uptake-test-actions',
  register(env) {
    env.registerInit({
      deps: { scaffolder: scaffolderActionsExtensionPoint },
      async init({ scaffolder }) {
        scaffolder.addActions(
          createTemplateAction({
            id: 'uptake-test:fail',
            description: 'Fails, so that a run ends in failure',
            async handler() {
              throw new Error('this step fails on purpose');
            },
          }),
        );
      },
    });
  },
});

/** A plugin offering one action, which Backstage's MCP server offers as a tool. */
const greeter = createBackendPlugin({
  pluginId: 'greeter',
  register(env) {
    env.registerInit({
      deps: { actions: actionsRegistryServiceRef },
      async init({ actions }) {
        actions.register({
          name: 'greet',
          title: 'Greet',
          description: 'Says hello',
          attributes: { readOnly: true },
          schema: {
            input: z => z.object({ name: z.string() }),
            output: z => z.object({ greeting: z.string() }),
          },
          action: async ({ input }) => ({ output: { greeting: `hello ${input.name}` } }),
        });
      },
    });
  },
});

export async function startPortal(options: {
  uptake: Uptake;
  databaseDir: string;
  provider: TestProvider;
}) {
  const { uptake, databaseDir, provider } = options;
  const providerModule = createBackendModule({
    pluginId: 'catalog',
    moduleId: 'uptake-test-provider',
    register(env) {
      env.registerInit({
        deps: { catalog: catalogProcessingExtensionPoint },
        async init({ catalog }) {
          catalog.addEntityProvider(provider);
        },
      });
    },
  });
  return startTestBackend({
    features: [
      mockServices.rootConfig.factory({
        data: {
          backend: {
            database: { client: 'better-sqlite3', connection: { directory: databaseDir } },
            actions: { pluginSources: ['greeter'] },
          },
          catalog: {
            rules: [{ allow: ['Component', 'API', 'System', 'Group', 'User', 'Template', 'Location'] }],
            locations: [{ type: 'file', target: join(__dirname, 'catalog', 'catalog-info.yaml') }],
          },
          proxy: {
            endpoints: {
              '/uptake': {
                target: uptake.baseUrl,
                headers: { Authorization: `Bearer ${uptake.ingestKey}` },
                allowedMethods: ['POST'],
              },
            },
          },
          uptake: {
            baseUrl: uptake.baseUrl,
            org: uptake.org,
            apiKey: uptake.ingestKey,
            adminGroups: ['group:default/platform'],
            catalog: { frequencyMinutes: 0.05 },
          },
        },
      }),
      databaseServiceFactory,
      schedulerServiceFactory,
      catalogPlugin,
      scaffolderEntityModel,
      scaffolderPlugin,
      proxyPlugin,
      uptakeBackend,
      actionsRegistryServiceFactory,
      actionsServiceFactory,
      mcpActionsPlugin,
      greeter,
      providerModule,
      failingAction,
    ],
  });
}
