/**
 * The analytics module as a Backstage app runs it: the real FetchApi of
 * `@backstage/core-app-api` (which adds the signed-in user's token), the
 * real proxy backend forwarding to a real Uptake server with the ingest
 * key, and the events Backstage's route tracker and the scaffolder emit.
 */
import { createFetchApi, FetchMiddlewares } from '@backstage/core-app-api';
import { mockCredentials } from '@backstage/backend-test-utils';
import { ConfigReader } from '@backstage/config';
import { analyticsApiRef, type AnalyticsEvent, type IdentityApi } from '@backstage/core-plugin-api';
import {
  UptakeAnalytics,
  uptakeAnalyticsApiFactory,
  type SessionStorage,
} from '@uptake/backstage-plugin-analytics-module-uptake';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { group, startPortal, TestProvider, user } from './portal';
import { eventually, Uptake } from './uptake';
import './exit';

/** A browser's localStorage: what one browser remembers between page loads. */
function browser(): SessionStorage {
  const items = new Map<string, string>();
  return { getItem: key => items.get(key) ?? null, setItem: (key, value) => void items.set(key, value) };
}

function signedIn(userEntityRef: string): IdentityApi {
  return {
    async getBackstageIdentity() {
      return { type: 'user', userEntityRef, ownershipEntityRefs: [userEntityRef] };
    },
    async getProfileInfo() {
      return { email: `${userEntityRef.split('/')[1]}@acme.test` };
    },
    async getCredentials() {
      return { token: mockCredentials.user.token(userEntityRef) };
    },
    async signOut() {},
  };
}

const CONTEXT = { extension: 'App', pluginId: 'catalog', routeRef: 'catalog:entity', releaseNum: 1 };

function navigate(path: string, params: Record<string, string> = {}, pluginId = 'catalog'): AnalyticsEvent {
  return { action: 'navigate', subject: path, attributes: params, context: { ...CONTEXT, pluginId } };
}

type Row = Record<string, unknown>;
const pick = (rows: Row[], columns: string[]) => rows.map(row => columns.map(c => row[c]));
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

void test('the analytics module sends page views, logins and runs through the proxy, and waits out an outage', async () => {
  const uptake = await Uptake.start();
  const databaseDir = mkdtempSync(join(tmpdir(), 'uptake-backstage-db-'));
  const provider = new TestProvider([
    group('platform'),
    user('ann', 'Ann Lee', ['platform']),
    user('bob', 'Bob Ray', []),
  ]);
  const portal = await startPortal({ uptake, databaseDir, provider });
  const base = `http://localhost:${portal.server.port()}`;
  // The frontend config a Backstage app serves to the browser.
  const config = new ConfigReader({ backend: { baseUrl: base }, uptake: { org: uptake.org } });
  const warnings: string[] = [];
  const app = (userRef: string, storage: SessionStorage, retry?: { attempts: number; firstDelayMs: number }) => {
    const identityApi = signedIn(userRef);
    const apis = {
      configApi: config,
      identityApi,
      discoveryApi: { getBaseUrl: async (pluginId: string) => `${base}/api/${pluginId}` },
      fetchApi: createFetchApi({ middleware: [FetchMiddlewares.injectIdentityAuth({ identityApi, config })] }),
    };
    // What the app registers builds this class from the same APIs.
    assert.equal(uptakeAnalyticsApiFactory.api, analyticsApiRef);
    assert.ok(uptakeAnalyticsApiFactory.factory(apis) instanceof UptakeAnalytics);
    return new UptakeAnalytics({ ...apis, storage, retry, console: { warn: (message: string) => void warnings.push(message) } });
  };
  try {
    // Ann's browser: two entity pages, the template list, then she runs a
    // template; the scaffolder opens the task's page after `create`.
    const annBrowser = browser();
    const ann = app('user:default/ann', annBrowser);
    ann.captureEvent(navigate('/catalog/default/component/checkout', { namespace: 'default', kind: 'component', name: 'checkout' }));
    ann.captureEvent(navigate('/catalog/default/component/billing?tab=ci', { namespace: 'default', kind: 'component', name: 'billing' }));
    ann.captureEvent(navigate('/create', {}, 'scaffolder'));
    // The template is in the catalog once the file location was processed.
    const created = await eventually(
      () =>
        fetch(`${base}/api/scaffolder/v2/tasks`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: mockCredentials.user.header('user:default/ann') },
          body: JSON.stringify({ templateRef: 'template:default/hello', values: {} }),
        }),
      response => response.status === 201,
    );
    const { id: taskId } = (await created.json()) as { id: string };
    ann.captureEvent({
      action: 'create',
      subject: 'Task has been created',
      value: 5,
      attributes: { templateSteps: 1 },
      context: { ...CONTEXT, pluginId: 'scaffolder', routeRef: 'scaffolder:selected-template', entityRef: 'template:default/hello' },
    });
    ann.captureEvent(navigate(`/create/tasks/${taskId}`, { taskId }, 'scaffolder'));
    // A reload in the same browser session is not a new login.
    const annAgain = app('user:default/ann', annBrowser);
    annAgain.captureEvent(navigate('/docs'));
    // Bob, in his own browser.
    const bob = app('user:default/bob', browser());
    bob.captureEvent(navigate('/catalog'));

    for (const analytics of [ann, annAgain, bob]) {
      await eventually(async () => { await analytics.flush(); return analytics.pending; }, n => n === 0);
    }
    await eventually(
      async () => pick(await uptake.widget('users.latest_logins'), ['user', 'logins']).sort(),
      rows => same(rows, [['user:default/ann', 1], ['user:default/bob', 1]]),
    );
    const pages = [
      ['admin', '/catalog/:namespace/:kind/:name', 2, 1],
      ['admin', '/create', 1, 1],
      ['admin', '/create/tasks/:taskId', 1, 1],
      ['admin', '/docs', 1, 1],
      ['member', '/catalog', 1, 1],
    ];
    // Roles come from the members the backend plugin sends: Ann is an admin.
    await eventually(
      async () => pick(await uptake.widget('users.popular_pages'), ['role', 'page', 'views', 'users']),
      rows => same(rows, pages),
    );
    // The run the browser reported and the one the backend reported when
    // the task finished are one run.
    await eventually(
      async () => pick(await uptake.widget('actions.log_by_user'), ['user', 'runs', 'ui_runs']),
      rows => same(rows, [['user:default/ann', 1, 1]]),
    );

    // Uptake goes down: the proxy answers 5xx. Nothing throws, the events
    // wait in the page, and a batch that fails too often is dropped with
    // a warning rather than kept forever.
    await uptake.kill();
    for (let i = 0; i < 3; i++) {
      ann.captureEvent(navigate('/settings'));
    }
    await eventually(async () => ann.pending, n => n === 3);
    await ann.flush();
    assert.equal(ann.pending, 3);
    const impatient = app('user:default/ann', annBrowser, { attempts: 2, firstDelayMs: 50 });
    impatient.captureEvent(navigate('/dropped'));
    await eventually(async () => impatient.pending, n => n === 1);
    await eventually(async () => { await impatient.flush(); return impatient.pending; }, n => n === 0);
    assert.deepEqual(warnings, [
      'Uptake analytics: dropped 1 events after 2 failed attempts to reach /uptake',
    ]);

    // Uptake is back: the waiting events arrive, each once.
    await uptake.serve();
    await eventually(async () => { await ann.flush(); return ann.pending; }, n => n === 0);
    const settings = await eventually(
      async () => (await uptake.widget('users.popular_pages')).filter(row => row.page !== '/catalog/:namespace/:kind/:name'),
      rows => rows.some(row => row.page === '/settings'),
    );
    assert.deepEqual(pick(settings, ['page', 'views']), [
      ['/settings', 3],
      ['/create', 1],
      ['/create/tasks/:taskId', 1],
      ['/docs', 1],
      ['/catalog', 1],
    ]);
  } finally {
    await portal.stop();
    await uptake.stop();
    rmSync(databaseDir, { recursive: true, force: true });
  }
});
