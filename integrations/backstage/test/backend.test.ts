/**
 * The Uptake backend plugin in a real Backstage backend, against a real
 * Uptake server: the catalog's entities, data sources and members, and
 * scaffolder runs, appear in Uptake's widgets exactly; while Uptake is
 * down (and Backstage restarts meanwhile) nothing is lost, and nothing
 * counts twice.
 */
import { mockCredentials } from '@backstage/backend-test-utils';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { component, group, startPortal, TestProvider, user } from './portal';
import { eventually, Uptake } from './uptake';
import './exit';

const GITHUB = 'https://github.com/acme';
const INTERNAL = 'https://git.acme.internal/erp';

function providerEntities(options: { cy: boolean; bobGroups: string[] }) {
  return [
    group('platform'),
    group('payments'),
    group('search'),
    user('ann', 'Ann Lee', ['platform', 'group:default/payments']),
    user('bob', 'Bob Ray', options.bobGroups),
    ...(options.cy ? [user('cy', 'Cy Twombly', ['payments'])] : []),
    component('billing', `${GITHUB}/billing/blob/main/catalog-info.yaml`),
    component('ledger', `${GITHUB}/ledger/blob/main/catalog-info.yaml`),
    component('legacy-erp', `${INTERNAL}/catalog-info.yaml`),
  ];
}

type Row = Record<string, unknown>;
const pick = (rows: Row[], columns: string[]) => rows.map(row => columns.map(c => row[c]));
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Starts a scaffolder task and waits until it ends; returns its status. */
async function runTemplate(base: string, template: string, authorization: string) {
  const created = await fetch(`${base}/api/scaffolder/v2/tasks`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: authorization },
    body: JSON.stringify({ templateRef: `template:default/${template}`, values: {} }),
  });
  assert.equal(created.status, 201, await created.clone().text());
  const { id } = (await created.json()) as { id: string };
  const task = await eventually(
    async () => {
      const response = await fetch(`${base}/api/scaffolder/v2/tasks/${id}`, {
        headers: { Authorization: authorization },
      });
      return (await response.json()) as { status: string };
    },
    task => task.status === 'completed' || task.status === 'failed',
  );
  return task.status;
}

async function counters(uptake: Uptake): Promise<string> {
  const response = await fetch(`${uptake.baseUrl}/metrics`, {
    headers: { Authorization: `Bearer ${uptake.readKey}` },
  });
  const text = await response.text();
  return text
    .split('\n')
    .filter(line => /^uptake_events_(accepted|duplicate)_total /.test(line))
    .join('\n');
}

void test('the backend plugin feeds every tab, survives Uptake being down, and counts once', async () => {
  const uptake = await Uptake.start();
  const databaseDir = mkdtempSync(join(tmpdir(), 'uptake-backstage-db-'));
  const provider = new TestProvider(providerEntities({ cy: true, bobGroups: ['search'] }));
  let portal = await startPortal({ uptake, databaseDir, provider });
  try {
    let base = `http://localhost:${portal.server.port()}`;

    // Entities: kinds as blueprints, sources from where each entity came.
    const entities = [
      ['portal', 'api', 'file', 1],
      ['portal', 'component', 'file', 2],
      ['portal', 'component', 'github', 2],
      ['portal', 'component', 'url:git.acme.internal', 1],
      ['portal', 'group', 'github', 3],
      ['portal', 'system', 'file', 1],
      ['portal', 'template', 'file', 2],
      ['portal', 'user', 'github', 3],
    ];
    await eventually(
      async () => pick(await uptake.widget('entities.by_source_blueprint'), ['org', 'blueprint', 'data_source', 'count']),
      rows => same(rows, entities),
    );

    // Data sources: one per source, active.
    const sources = await uptake.widget('datasources.log');
    assert.deepEqual(
      pick(sources, ['org', 'data_source', 'type', 'name', 'status']).sort(),
      [
        ['portal', 'file', 'file', 'Local files', 'active'],
        ['portal', 'github', 'github', 'github.com', 'active'],
        ['portal', 'url:git.acme.internal', 'url', 'git.acme.internal', 'active'],
      ],
    );

    // Members: every User, none has logged in yet, with their teams.
    const members = [
      ['user:default/ann', 'Ann Lee', 'ann@acme.test'],
      ['user:default/bob', 'Bob Ray', 'bob@acme.test'],
      ['user:default/cy', 'Cy Twombly', 'cy@acme.test'],
    ];
    assert.deepEqual(pick(await uptake.widget('users.inactive'), ['user', 'name', 'email']), members);
    const teams = await uptake.widget('users.team_engagement');
    assert.deepEqual(
      [...new Set(teams.map(row => `${row.org}/${row.team}`))].sort(),
      ['portal/payments', 'portal/platform', 'portal/search'],
    );

    // Scaffolder runs: by a signed-in user (ui) or a service (api), with outcome.
    const ann = mockCredentials.user.header('user:default/ann');
    assert.equal(await runTemplate(base, 'hello', ann), 'completed');
    assert.equal(await runTemplate(base, 'hello', mockCredentials.service.header()), 'completed');
    assert.equal(await runTemplate(base, 'broken', ann), 'failed');
    const byUser = [
      ['user:default/ann', 'Ann Lee', 2, 0, 2],
      ['(none)', '', 1, 1, 0],
    ];
    await eventually(
      async () => pick(await uptake.widget('actions.log_by_user'), ['user', 'name', 'runs', 'api_runs', 'ui_runs']),
      rows => same(rows, byUser),
    );
    // Ann is in the configured admin group.
    assert.deepEqual(
      pick(await uptake.widget('actions.log_by_role_team'), ['role', 'team', 'runs']).sort(),
      [['(none)', '(none)', 1], ['admin', 'payments', 2], ['admin', 'platform', 2]],
    );

    // MCP: Ann calls a tool of Backstage's MCP server twice with a real
    // MCP client; each call is one MCP call.
    const mcp = new Client({ name: 'uptake-test', version: '1.0.0' });
    await mcp.connect(
      new StreamableHTTPClientTransport(new URL(`${base}/api/mcp-actions/v1`), {
        requestInit: { headers: { Authorization: ann } },
      }),
    );
    const { tools } = await mcp.listTools();
    const tool = tools.find(t => t.name.includes('greet'));
    assert.ok(tool, JSON.stringify(tools));
    for (const name of ['Ann', 'Bob']) {
      const result = await mcp.callTool({ name: tool.name, arguments: { name } });
      assert.equal(result.isError ?? false, false, JSON.stringify(result));
    }
    await mcp.close();
    await eventually(
      async () => pick(await uptake.widget('ai.mcp_monthly'), ['calls', 'users']).at(-1),
      last => same(last, [2, 1]),
    );

    // Uptake goes down. Meanwhile Bob runs a template, Cy leaves and Bob
    // joins the platform team; the plugin queues all of it.
    await uptake.kill();
    const bob = mockCredentials.user.header('user:default/bob');
    assert.equal(await runTemplate(base, 'hello', bob), 'completed');
    await provider.set(providerEntities({ cy: false, bobGroups: ['platform'] }));
    const outbox = new Database(join(databaseDir, 'uptake.sqlite'), { readonly: true });
    await eventually(
      async () => (outbox.prepare('select body from uptake_outbox').all() as { body: string }[]).map(row => JSON.parse(row.body).type as string).sort(),
      types => same(types, ['action_run', 'entity_snapshot', 'member_removed', 'member_upserted']),
    );
    outbox.close();

    // Backstage restarts while Uptake is still down: the queue survives.
    await portal.stop();
    portal = await startPortal({ uptake, databaseDir, provider });
    base = `http://localhost:${portal.server.port()}`;
    await uptake.serve();

    await eventually(
      async () => pick(await uptake.widget('actions.log_by_user'), ['user', 'runs']),
      rows => same(rows, [['user:default/ann', 2], ['(none)', 1], ['user:default/bob', 1]]),
    );
    await eventually(
      async () => pick(await uptake.widget('users.inactive'), ['user']),
      rows => same(rows, [['user:default/ann'], ['user:default/bob']]),
    );
    await eventually(
      async () => pick(await uptake.widget('entities.by_source_blueprint'), ['blueprint', 'data_source', 'count']).filter(r => r[0] === 'user'),
      rows => same(rows, [['user', 'github', 2]]),
    );

    // Nothing more is sent once Uptake has it all: a catalog read that
    // finds no change sends nothing (Uptake's counters stay).
    const before = await counters(uptake);
    await new Promise(resolve => setTimeout(resolve, 8_000));
    assert.equal(await counters(uptake), before);
  } finally {
    await portal.stop();
    await uptake.stop();
    rmSync(databaseDir, { recursive: true, force: true });
  }
});
