/**
 * Uptake's analytics module for a Backstage app: add
 * `uptakeAnalyticsApiFactory` to the app's APIs.
 */
import {
  analyticsApiRef,
  configApiRef,
  createApiFactory,
  discoveryApiRef,
  fetchApiRef,
  identityApiRef,
} from '@backstage/core-plugin-api';
import { UptakeAnalytics } from './UptakeAnalytics';

export { UptakeAnalytics } from './UptakeAnalytics';
export type { UptakeAnalyticsOptions, SessionStorage } from './UptakeAnalytics';
export { pageOf } from './page';

export const uptakeAnalyticsApiFactory = createApiFactory({
  api: analyticsApiRef,
  deps: {
    configApi: configApiRef,
    identityApi: identityApiRef,
    discoveryApi: discoveryApiRef,
    fetchApi: fetchApiRef,
  },
  factory: apis => UptakeAnalytics.fromConfig(apis),
});
