import {
  coreServices,
  createBackendPlugin,
} from '@backstage/backend-plugin-api';
import type { Config } from '@backstage/config';
import type { Entity } from '@backstage/catalog-model';
import { catalogServiceRef } from '@backstage/plugin-catalog-node';
import { catalogState } from './catalogState';
import { changes } from './changes';
import { readUptakeConfig } from './config';
import { Outbox } from './outbox';
import { runEventsServiceRef } from './runEvents';
import { Sender } from './sender';

/** Entities read from the catalog per page. */
const PAGE = 500;

/** Hosts configured under `integrations` (GitHub Enterprise, …) and their kind. */
export function integrationHosts(config: Config): Map<string, string> {
  const hosts = new Map<string, string>();
  const integrations = config.getOptionalConfig('integrations');
  for (const kind of integrations?.keys() ?? []) {
    for (const entry of integrations?.getOptionalConfigArray(kind) ?? []) {
      const host = entry.getOptionalString('host');
      if (host) {
        hosts.set(host.toLowerCase(), kind);
      }
    }
  }
  return hosts;
}

/**
 * The Uptake backend plugin: on a schedule, reads the catalog and sends
 * what changed (entity counts, data sources, members); at once, sends the
 * scaffolder runs and MCP tool calls the Uptake auditor hands it. Every
 * event goes through the outbox, so none is lost while Uptake is down.
 */
export const uptakePlugin = createBackendPlugin({
  pluginId: 'uptake',
  register(env) {
    env.registerInit({
      deps: {
        rootConfig: coreServices.rootConfig,
        logger: coreServices.logger,
        database: coreServices.database,
        scheduler: coreServices.scheduler,
        auth: coreServices.auth,
        lifecycle: coreServices.lifecycle,
        catalog: catalogServiceRef,
        runs: runEventsServiceRef,
      },
      async init({ rootConfig, logger, database, scheduler, auth, lifecycle, catalog, runs }) {
        const config = readUptakeConfig(rootConfig);
        const hosts = integrationHosts(rootConfig);
        const outbox = await Outbox.create(await database.getClient());
        const sender = new Sender(outbox, config, logger);
        lifecycle.addShutdownHook(() => sender.stop());

        // Runs arrive one by one from the auditor; each is queued at once.
        const dropped = runs.attach(event => {
          outbox
            .enqueue([{ ...event, org: config.org }])
            .then(() => sender.nudge())
            .catch(error =>
              logger.error(`Uptake: could not queue ${event.type} ${event.id}: ${error}`),
            );
        });
        if (dropped > 0) {
          logger.warn(`Uptake: ${dropped} runs seen before the plugin started were dropped`);
        }

        const readCatalog = async (): Promise<Entity[]> => {
          const credentials = await auth.getOwnServiceCredentials();
          const entities: Entity[] = [];
          let cursor: string | undefined;
          do {
            const page = await catalog.queryEntities(
              cursor
                ? { cursor, limit: PAGE }
                : {
                    limit: PAGE,
                    fields: [
                      'kind',
                      'metadata.name',
                      'metadata.namespace',
                      'metadata.annotations',
                      'spec.profile',
                      'spec.memberOf',
                    ],
                  },
              { credentials },
            );
            entities.push(...page.items);
            cursor = page.pageInfo.nextCursor;
          } while (cursor);
          return entities;
        };

        await scheduler.scheduleTask({
          id: 'uptake-catalog-sync',
          frequency: { minutes: config.frequencyMinutes },
          timeout: { minutes: 10 },
          initialDelay: { seconds: 5 },
          // One replica at a time; the state table is shared.
          scope: 'global',
          fn: async () => {
            const now = catalogState(await readCatalog(), config, hosts);
            const found = changes(now, await outbox.readState(), config.org, new Date().toISOString());
            if (found.events.length > 0) {
              await outbox.commit(found.events, found.rows);
              logger.info(`Uptake: queued ${found.events.length} catalog changes`);
            }
            // Also retries what an earlier run or another replica left queued.
            await sender.run();
          },
        });
      },
    });
  },
});
