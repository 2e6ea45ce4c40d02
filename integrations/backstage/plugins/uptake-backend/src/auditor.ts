import {
  coreServices,
  createServiceFactory,
  type AuditorServiceEventSeverityLevel,
} from '@backstage/backend-plugin-api';
import { DefaultAuditorService } from '@backstage/backend-defaults/auditor';
import { randomUUID } from 'node:crypto';
import { scaffolderRunId, type UptakeEvent } from './events';
import { runEventsServiceRef } from './runEvents';

type AuditEvent = Parameters<Parameters<typeof DefaultAuditorService.create>[0]>[0];

/**
 * What Uptake counts from an audit event: a scaffolder task that finished
 * (`scaffolder.task`, action type `execution`) is an action run, `ui`
 * when a signed-in user started it and `api` when a service did; a call of
 * an MCP tool (`mcp-actions.tool-execution`) is an MCP call. Everything
 * else is not usage.
 */
export function usageOf(event: AuditEvent, time: string): UptakeEvent | undefined {
  if (event.status === 'initiated') {
    return undefined;
  }
  const meta = (event.meta ?? {}) as Record<string, unknown>;
  if (
    event.plugin === 'scaffolder' &&
    event.eventId === 'task' &&
    meta.actionType === 'execution' &&
    typeof meta.taskId === 'string'
  ) {
    const user = typeof meta.createdBy === 'string' && meta.createdBy !== '' ? meta.createdBy : undefined;
    const template = typeof meta.templateRef === 'string' ? meta.templateRef : 'unknown-template';
    return {
      id: scaffolderRunId(meta.taskId),
      type: 'action_run',
      time,
      action: template,
      trigger: user ? 'ui' : 'api',
      ...(user ? { user } : {}),
      status: event.status === 'succeeded' ? 'success' : 'failure',
    };
  }
  if (
    event.plugin === 'mcp-actions' &&
    event.eventId === 'tool-execution' &&
    typeof meta.toolName === 'string'
  ) {
    const actor = event.actor.actorId;
    return {
      id: `backstage-mcp-${randomUUID()}`,
      type: 'mcp_call',
      time,
      tool: meta.toolName,
      ...(actor && actor.startsWith('user:') ? { user: actor } : {}),
    };
  }
  return undefined;
}

const LEVELS: Record<AuditorServiceEventSeverityLevel, 'debug' | 'info'> = {
  low: 'debug',
  medium: 'info',
  high: 'info',
  critical: 'info',
};

/**
 * Backstage's auditor, logging every audit event as the default one does,
 * that also hands scaffolder runs and MCP tool calls to Uptake. It
 * replaces the default auditor (`backend.add` of this factory); an app
 * with its own auditor calls {@link usageOf} from it instead.
 */
export const uptakeAuditorServiceFactory = createServiceFactory({
  service: coreServices.auditor,
  deps: {
    logger: coreServices.logger,
    auth: coreServices.auth,
    httpAuth: coreServices.httpAuth,
    plugin: coreServices.pluginMetadata,
    runs: runEventsServiceRef,
  },
  factory({ logger, auth, httpAuth, plugin, runs }) {
    const auditLogger = logger.child({ isAuditEvent: true });
    return DefaultAuditorService.create(
      event => {
        const level = LEVELS[event.severityLevel] ?? 'info';
        if ('error' in event) {
          const { error, ...rest } = event;
          auditLogger.child(rest)[level](`${event.plugin}.${event.eventId}`, error);
        } else {
          auditLogger[level](`${event.plugin}.${event.eventId}`, event);
        }
        const usage = usageOf(event, new Date().toISOString());
        if (usage) {
          runs.push(usage);
        }
      },
      { plugin, auth, httpAuth },
    );
  },
});
