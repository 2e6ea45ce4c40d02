/**
 * Ends a test file's process once its tests are done. Backstage's database
 * service keeps its knex pools, and their reaping timers, after the backend
 * stops (a Backstage process exits when its backend stops, so it does not
 * matter there); without this the test process would never end.
 */
import { after } from 'node:test';

after(() => {
  setTimeout(() => process.exit(process.exitCode ?? 0), 1000).unref();
});
