/**
 * A real Uptake server for the Backstage tests: the `uptake` binary named
 * by `UPTAKE_BIN` (the Rust test that runs these sets it), over a SQLite
 * store in a temporary directory, with an ingest key bound to one org and
 * a read key for the widget API.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const BIN = process.env.UPTAKE_BIN;

export class Uptake {
  readonly dir = mkdtempSync(join(tmpdir(), 'uptake-backstage-'));
  readonly org = 'portal';
  ingestKey = '';
  readKey = '';
  baseUrl = '';
  private child: ChildProcess | undefined;

  static async start(): Promise<Uptake> {
    if (!BIN) {
      throw new Error('UPTAKE_BIN must name the uptake binary (cargo test sets it; see ../../tests/it/backstage.rs)');
    }
    const uptake = new Uptake();
    uptake.ingestKey = uptake.cli(['keys', 'create', '--kind', 'ingest', '--org', uptake.org]);
    uptake.readKey = uptake.cli(['keys', 'create', '--kind', 'read']);
    await uptake.serve('127.0.0.1:0');
    return uptake;
  }

  private cli(args: string[]): string {
    return execFileSync(BIN!, [...args, '--data', this.dir], { encoding: 'utf8' }).trim();
  }

  /** Starts the server, on the address it had before when it is restarted. */
  async serve(listen = new URL(this.baseUrl).host): Promise<void> {
    const child = spawn(BIN!, ['serve', '--listen', listen, '--data', this.dir], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, UPTAKE_LOG: 'warn' },
    });
    this.child = child;
    const lines = createInterface({ input: child.stdout! });
    for await (const line of lines) {
      const match = /^listening on (http:\/\/\S+)$/.exec(line);
      if (match) {
        this.baseUrl = match[1];
        return;
      }
    }
    throw new Error('uptake serve stopped before it printed its address');
  }

  /** Kills the server at once, as a crash would. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise(resolve => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A widget's rows as objects, read with the company-wide read key. */
  async widget(id: string, query = ''): Promise<Record<string, unknown>[]> {
    const response = await fetch(`${this.baseUrl}/api/v1/widgets/${id}${query ? `?${query}` : ''}`, {
      headers: { Authorization: `Bearer ${this.readKey}` },
    });
    if (!response.ok) {
      throw new Error(`widget ${id}: ${response.status} ${await response.text()}`);
    }
    const body = (await response.json()) as { columns: string[]; rows: unknown[][] };
    return body.rows.map(row => Object.fromEntries(body.columns.map((c, i) => [c, row[i]])));
  }
}

/**
 * Polls `read` until it returns what `check` accepts (then returns it), or
 * throws with the last value after `seconds`. Uptake receives the portal's
 * events asynchronously, so the tests wait for them to arrive.
 */
export async function eventually<T>(
  read: () => Promise<T>,
  check: (value: T) => boolean,
  seconds = 60,
): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  let last: T | undefined;
  let error: unknown;
  while (Date.now() < deadline) {
    try {
      last = await read();
      if (check(last)) return last;
    } catch (e) {
      error = e;
    }
    await new Promise(resolve => setTimeout(resolve, 250));
  }
  throw new Error(`gave up waiting; last value: ${JSON.stringify(last)} ${error ?? ''}`);
}
