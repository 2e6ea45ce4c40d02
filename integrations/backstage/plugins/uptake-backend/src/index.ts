/**
 * Uptake's Backstage backend plugin.
 *
 * `backend.add(import('@uptake/backstage-plugin-uptake-backend'))` adds the
 * plugin (catalog entities, data sources, members) and the auditor that
 * reports scaffolder runs and MCP tool calls.
 */
import { createBackendFeatureLoader } from '@backstage/backend-plugin-api';
import { uptakeAuditorServiceFactory } from './auditor';
import { uptakePlugin } from './plugin';

export { uptakePlugin } from './plugin';
export { uptakeAuditorServiceFactory, usageOf } from './auditor';
export { runEventsServiceRef, RunEvents } from './runEvents';

export default createBackendFeatureLoader({
  *loader() {
    yield uptakePlugin;
    yield uptakeAuditorServiceFactory;
  },
});
