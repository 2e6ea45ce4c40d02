import type { LoggerService } from '@backstage/backend-plugin-api';
import type { UptakeConfig } from './config';
import type { Outbox } from './outbox';

/** Events per request; Uptake takes up to 10,000 by default. */
const BATCH = 500;
const FIRST_DELAY_MS = 1_000;
const MAX_DELAY_MS = 5 * 60_000;
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * Drains the outbox into Uptake's ingest API, oldest first. A batch leaves
 * the outbox only when Uptake answered 200 (then every event in it is
 * stored, a duplicate of a stored one, or refused for good and logged);
 * otherwise it stays and is sent again after a growing delay, or after the
 * `Retry-After` Uptake asked for. Event ids make the re-sends harmless.
 */
export class Sender {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private again = false;
  private stopped = false;
  private failures = 0;

  constructor(
    private readonly outbox: Outbox,
    private readonly config: UptakeConfig,
    private readonly logger: LoggerService,
  ) {}

  /** Sends soon: after new events were queued. */
  nudge(): void {
    if (this.failures === 0) {
      this.schedule(0);
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.run(), delayMs);
    this.timer.unref?.();
  }

  /** Sends until the outbox is empty or Uptake refuses; never throws. */
  async run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      for (;;) {
        this.again = false;
        const rows = await this.outbox.peek(BATCH);
        if (rows.length === 0) {
          if (!this.again) break;
          continue;
        }
        const wait = await this.send(rows.map(row => row.event));
        if (wait !== undefined) {
          this.failures += 1;
          this.schedule(wait);
          return;
        }
        this.failures = 0;
        await this.outbox.remove(rows.map(row => row.seq));
      }
    } catch (error) {
      this.failures += 1;
      this.logger.warn(`Uptake: could not read the outbox: ${error}`);
      this.schedule(this.backoff());
    } finally {
      this.running = false;
    }
  }

  private backoff(): number {
    return Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** Math.min(this.failures, 20));
  }

  /** Undefined when Uptake took the batch; else the milliseconds to wait. */
  private async send(events: object[]): Promise<number | undefined> {
    const url = `${this.config.baseUrl}/api/v1/events`;
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Authorization: `Bearer ${this.config.apiKey}`,
        },
        body: JSON.stringify(events),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      this.warnOnce(`Uptake at ${url} is unreachable (${error}); ${events.length} events wait in the outbox`);
      return this.backoff();
    }
    const text = await response.text().catch(() => '');
    if (response.status === 200) {
      this.logRejections(text);
      return undefined;
    }
    const retryAfter = Number(response.headers.get('retry-after'));
    const wait =
      Number.isFinite(retryAfter) && retryAfter > 0
        ? Math.min(MAX_DELAY_MS, retryAfter * 1000)
        : this.backoff();
    // 401, 403 and 4xx are configuration problems (a revoked key, a wrong
    // org): the events stay queued until the configuration is fixed.
    this.warnOnce(
      `Uptake answered ${response.status} to ${events.length} events: ${text.slice(0, 300)}; they stay queued and are sent again in ${Math.round(wait / 1000)} s`,
    );
    return wait;
  }

  private lastWarning = 0;

  /** At most one warning a minute while Uptake stays unavailable. */
  private warnOnce(message: string): void {
    const now = Date.now();
    if (now - this.lastWarning >= 60_000) {
      this.lastWarning = now;
      this.logger.warn(message);
    }
  }

  private logRejections(text: string): void {
    try {
      const summary = JSON.parse(text) as {
        rejected?: { id?: string; error: string; detail: string }[];
      };
      for (const rejection of summary.rejected ?? []) {
        this.logger.error(
          `Uptake refused event ${rejection.id ?? '?'}: ${rejection.error}: ${rejection.detail}`,
        );
      }
    } catch {
      // A 200 whose body is not the summary still means stored.
    }
  }
}
