import { createHash } from 'node:crypto';

/**
 * An event of Uptake's ingest contract (`POST /api/v1/events`), as this
 * plugin sends it. The org comes from the plugin's config when it is sent.
 */
export type UptakeEvent = {
  id: string;
  type: string;
  time: string;
  [field: string]: unknown;
};

/**
 * An id that is the same whenever the same change is computed again, so
 * that a re-send after a crash, or two replicas computing the same change,
 * store it once: it hashes what changed and the id of the event before it
 * for the same thing (a member, the snapshot, a data source), which keeps
 * a change back to an earlier state (A, B, then A again) distinct.
 */
export function chainedId(
  what: string,
  key: string,
  previousId: string | undefined,
  content: string,
): string {
  const digest = createHash('sha256')
    .update(`${what}\n${key}\n${previousId ?? ''}\n${content}`)
    .digest('hex');
  return `backstage-${what}-${digest.slice(0, 32)}`;
}

/** The id of the run of scaffolder task `taskId`, as the frontend module also makes it. */
export function scaffolderRunId(taskId: string): string {
  return `backstage-scaffolder-task-${taskId}`;
}
