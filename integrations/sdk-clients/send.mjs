// Sends a fixed set of events to an Uptake server through the real Segment
// and PostHog Node clients, as a portal would after pointing them at
// Uptake: `node send.mjs <base URL> <ingest key>`.
import { Analytics } from '@segment/analytics-node';
import { PostHog } from 'posthog-node';

const [base, key] = process.argv.slice(2);
if (!base || !key) {
  console.error('usage: node send.mjs <base URL> <ingest key>');
  process.exit(2);
}

const segment = new Analytics({ writeKey: key, host: base, flushInterval: 50 });
const errors = [];
segment.on('error', (e) => errors.push(e));
segment.track({ userId: 'seg-ann', event: 'Signed In' });
segment.page({ userId: 'seg-ann', name: 'Catalog', properties: { path: '/catalog', title: 'Catalog' } });
segment.track({
  userId: 'seg-ann',
  event: 'action_run',
  properties: { action: 'deploy', trigger: 'ui', status: 'success' },
});
segment.identify({ userId: 'seg-ann', traits: { role: 'admin', teams: ['platform'], name: 'Ann', email: 'ann@example.com' } });
segment.track({ userId: 'seg-ann', event: 'Clicked Button' });
await segment.closeAndFlush({ timeout: 10000 });

const posthog = new PostHog(key, { host: base, flushAt: 20, flushInterval: 50 });
posthog.on('error', (e) => errors.push(e));
posthog.capture({ distinctId: 'ph-bob', event: 'Logged In' });
posthog.capture({ distinctId: 'ph-bob', event: '$pageview', properties: { $current_url: 'https://portal.example/self-serve?x=1' } });
posthog.capture({ distinctId: 'ph-bob', event: '$mcp_tool_call', properties: { tool: 'search_entities' } });
posthog.identify({ distinctId: 'ph-bob', properties: { role: 'member', teams: ['sre'] } });
posthog.capture({ distinctId: 'ph-bob', event: 'Opened Menu' });
await posthog.shutdown(10000);

if (errors.length) {
  console.error(errors);
  process.exit(1);
}
