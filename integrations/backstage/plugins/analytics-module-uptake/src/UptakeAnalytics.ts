import type {
  AnalyticsApi,
  AnalyticsEvent,
  ConfigApi,
  DiscoveryApi,
  FetchApi,
  IdentityApi,
} from '@backstage/core-plugin-api';
import { pageOf } from './page';

/** An event of Uptake's ingest contract, as the browser sends it. */
type UptakeEvent = { id: string; type: string; time: string; [field: string]: unknown };

/** The subset of the Web Storage API used to recognise a browser session. */
export type SessionStorage = Pick<Storage, 'getItem' | 'setItem'>;

export interface UptakeAnalyticsOptions {
  configApi: ConfigApi;
  identityApi: IdentityApi;
  discoveryApi: DiscoveryApi;
  fetchApi: FetchApi;
  /** Where the session's last activity is kept; `localStorage` in a browser. */
  storage?: SessionStorage;
  /** Where a dropped batch is reported; `console` by default. */
  console?: Pick<Console, 'warn'>;
  /** Tries per batch before it is dropped (default 8), and the first wait (default 1 s), doubling up to a minute. */
  retry?: { attempts?: number; firstDelayMs?: number };
}

/** Events sent per request, and the most kept while Uptake is unreachable. */
const BATCH = 50;
const MAX_QUEUED = 1_000;
/** Milliseconds between two sends while events arrive. */
const FLUSH_MS = 5_000;
const MAX_DELAY_MS = 60_000;
const REQUEST_TIMEOUT_MS = 30_000;
/** How long a scaffolder `create` waits for the task page that names its task. */
const TASK_WAIT_MS = 10_000;

/**
 * Backstage's `AnalyticsApi` for Uptake: `navigate` becomes a page view,
 * the first event of a new browser session a login, and a scaffolder
 * `create` an action run started from the UI. Events are queued and sent
 * in batches through the Backstage proxy (the ingest key stays there),
 * retried with a growing delay and dropped with a console warning after
 * a bounded number of tries (8 by default: about two minutes). `captureEvent` returns at once and never
 * throws: analytics must not break the app.
 */
export class UptakeAnalytics implements AnalyticsApi {
  private readonly queue: UptakeEvent[] = [];
  private readonly storage: SessionStorage;
  private readonly console: Pick<Console, 'warn'>;
  private readonly org: string | undefined;
  private readonly userIdFrom: 'entityRef' | 'email';
  private readonly proxyPath: string;
  private readonly pageMode: 'route' | 'path';
  private readonly sessionMs: number;
  private readonly scaffolderRuns: boolean;
  private readonly maxAttempts: number;
  private readonly firstDelayMs: number;
  private user: Promise<string | undefined> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private sending = false;
  private attempts = 0;
  /** A scaffolder run waiting for its task id, and the last task page seen. */
  private pendingRun: { event: UptakeEvent; timer: ReturnType<typeof setTimeout> } | undefined;
  private lastTask: { taskId: string; at: number; used: boolean } | undefined;

  static fromConfig(options: UptakeAnalyticsOptions): UptakeAnalytics {
    return new UptakeAnalytics(options);
  }

  constructor(private readonly options: UptakeAnalyticsOptions) {
    const config = options.configApi;
    this.org = config.getOptionalString('uptake.org');
    const userId = config.getOptionalString('uptake.userId') ?? 'entityRef';
    this.userIdFrom = userId === 'email' ? 'email' : 'entityRef';
    this.proxyPath = (config.getOptionalString('uptake.analytics.proxyPath') ?? '/uptake').replace(/\/+$/, '');
    this.pageMode = config.getOptionalString('uptake.analytics.page') === 'path' ? 'path' : 'route';
    this.sessionMs = (config.getOptionalNumber('uptake.analytics.sessionMinutes') ?? 30) * 60_000;
    this.scaffolderRuns = config.getOptionalBoolean('uptake.analytics.scaffolderRuns') ?? true;
    this.maxAttempts = options.retry?.attempts ?? 8;
    this.firstDelayMs = options.retry?.firstDelayMs ?? 1_000;
    this.storage = options.storage ?? browserStorage();
    this.console = options.console ?? console;
    if (typeof document !== 'undefined') {
      // Send what is queued when the tab is hidden or closed.
      document.addEventListener('visibilitychange', () => {
        if (document.visibilityState === 'hidden') void this.flush(true);
      });
    }
  }

  captureEvent(event: AnalyticsEvent): void {
    try {
      const time = new Date().toISOString();
      this.userId()
        .then(user => this.record(event, user, time))
        .catch(error => this.console.warn(`Uptake analytics: event not recorded: ${error}`));
    } catch (error) {
      this.console.warn(`Uptake analytics: event not recorded: ${error}`);
    }
  }

  /** Sends everything queued now; resolves when Uptake took it or it stays queued. */
  async flush(keepalive = false): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.sending) return;
    this.sending = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.slice(0, BATCH);
        const outcome = await this.send(batch, keepalive);
        if (outcome === 'retry') {
          this.attempts += 1;
          if (this.attempts >= this.maxAttempts) {
            this.queue.splice(0, batch.length);
            this.attempts = 0;
            this.console.warn(
              `Uptake analytics: dropped ${batch.length} events after ${this.maxAttempts} failed attempts to reach ${this.proxyPath}`,
            );
            continue;
          }
          this.schedule(Math.min(MAX_DELAY_MS, this.firstDelayMs * 2 ** (this.attempts - 1)));
          return;
        }
        this.attempts = 0;
        this.queue.splice(0, batch.length);
      }
    } finally {
      this.sending = false;
    }
  }

  /** Events waiting to be sent. */
  get pending(): number {
    return this.queue.length + (this.pendingRun ? 1 : 0);
  }

  private userId(): Promise<string | undefined> {
    if (!this.user) {
      const identity = this.options.identityApi;
      this.user =
        this.userIdFrom === 'email'
          ? identity.getProfileInfo().then(profile => profile.email || undefined)
          : identity.getBackstageIdentity().then(id => id.userEntityRef || undefined);
      this.user.catch(() => {
        this.user = undefined;
      });
    }
    return this.user;
  }

  private record(event: AnalyticsEvent, user: string | undefined, time: string): void {
    if (!user) return;
    this.startSession(user, time);
    const base = { user, time };
    if (event.action === 'navigate') {
      const params = event.attributes as Record<string, unknown> | undefined;
      this.push({ ...base, id: newId(), type: 'page_view', page: pageOf(event.subject, params, this.pageMode) });
      if (typeof params?.taskId === 'string' && params.taskId !== '') {
        this.sawTask(params.taskId);
      }
    } else if (event.action === 'create' && event.context.pluginId === 'scaffolder' && this.scaffolderRuns) {
      const template = typeof event.context.entityRef === 'string' ? event.context.entityRef : event.subject;
      this.startedRun({ ...base, id: newId(), type: 'action_run', action: template, trigger: 'ui', status: 'in_progress' });
    }
  }

  /** One login per browser session: the first event after `sessionMinutes` of quiet. */
  private startSession(user: string, time: string): void {
    const key = `uptake:last-activity:${user}`;
    const now = Date.parse(time);
    let last = NaN;
    try {
      last = Number(this.storage.getItem(key));
      this.storage.setItem(key, String(now));
    } catch {
      // Storage refused (private mode, quota): every page load is a session.
    }
    if (!(now - last < this.sessionMs)) {
      this.push({ id: newId(), type: 'login', user, time });
    }
  }

  /**
   * The scaffolder opens the task's page (`/create/tasks/:taskId`) right
   * after it creates the task, just before or after it reports `create`.
   * The run takes the id the backend plugin gives that task, so that a run
   * reported by both counts once.
   */
  private startedRun(event: UptakeEvent): void {
    const task = this.lastTask;
    if (task && !task.used && Date.now() - task.at < TASK_WAIT_MS) {
      task.used = true;
      this.push({ ...event, id: `backstage-scaffolder-task-${task.taskId}` });
      return;
    }
    if (this.pendingRun) {
      this.releaseRun();
    }
    const timer = setTimeout(() => this.releaseRun(), TASK_WAIT_MS);
    this.pendingRun = { event, timer };
  }

  private sawTask(taskId: string): void {
    if (this.pendingRun) {
      const { event, timer } = this.pendingRun;
      clearTimeout(timer);
      this.pendingRun = undefined;
      this.lastTask = { taskId, at: Date.now(), used: true };
      this.push({ ...event, id: `backstage-scaffolder-task-${taskId}` });
    } else if (this.lastTask?.taskId !== taskId) {
      this.lastTask = { taskId, at: Date.now(), used: false };
    }
  }

  /** No task page came: the run is sent with an id of its own. */
  private releaseRun(): void {
    if (!this.pendingRun) return;
    clearTimeout(this.pendingRun.timer);
    this.push(this.pendingRun.event);
    this.pendingRun = undefined;
  }

  private push(event: UptakeEvent): void {
    this.queue.push(this.org ? { ...event, org: this.org } : event);
    if (this.queue.length > MAX_QUEUED) {
      const dropped = this.queue.splice(0, this.queue.length - MAX_QUEUED);
      this.console.warn(`Uptake analytics: dropped the ${dropped.length} oldest events; Uptake has been unreachable too long`);
    }
    if (this.attempts > 0) {
      return; // A retry is scheduled; it sends these too.
    }
    if (this.queue.length >= BATCH) {
      void this.flush();
    } else if (!this.timer) {
      this.schedule(FLUSH_MS);
    }
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.flush(), delayMs);
  }

  private async send(batch: UptakeEvent[], keepalive: boolean): Promise<'done' | 'retry'> {
    let response: Response;
    try {
      const base = await this.options.discoveryApi.getBaseUrl('proxy');
      response = await this.options.fetchApi.fetch(`${base}${this.proxyPath}/api/v1/events`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(batch),
        keepalive,
        // A request that hangs counts as failed, so the queue moves on.
        signal: typeof AbortSignal.timeout === 'function' ? AbortSignal.timeout(REQUEST_TIMEOUT_MS) : undefined,
      });
    } catch {
      return 'retry';
    }
    if (response.ok) {
      return 'done';
    }
    if (response.status === 408 || response.status === 429 || response.status >= 500) {
      return 'retry';
    }
    // Any other answer (a wrong key, a proxy not configured) will not
    // change by sending again.
    this.console.warn(
      `Uptake analytics: dropped ${batch.length} events: ${response.status} from ${this.proxyPath}: ${(await response.text().catch(() => '')).slice(0, 200)}`,
    );
    return 'done';
  }
}

function newId(): string {
  return `backstage-web-${globalThis.crypto.randomUUID()}`;
}

function browserStorage(): SessionStorage {
  try {
    if (typeof localStorage !== 'undefined') return localStorage;
  } catch {
    // localStorage access throws when storage is disabled.
  }
  const memory = new Map<string, string>();
  return {
    getItem: key => memory.get(key) ?? null,
    setItem: (key, value) => void memory.set(key, value),
  };
}
