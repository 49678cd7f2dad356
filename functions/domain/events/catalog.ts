/**
 * The event types a webhook can subscribe to, in the order the contract lists
 * them. `project.completed` is a deprecated alias of `project.closed`: both
 * stay subscribable so existing clients keep working.
 */
export const EVENT_TYPES = [
  'ticket.created',
  'ticket.updated',
  'ticket.status_changed',
  'ticket.assigned',
  'ticket.closed',
  'ticket.comment.added',
  'project.created',
  'project.updated',
  'project.status_changed',
  'project.assigned',
  'project.closed',
  'project.completed',
  'project.task.created',
  'project.task.updated',
  'project.task.status_changed',
  'project.task.assigned',
  'project.task.completed',
  'client.created',
  'client.updated',
  'contact.created',
  'contact.updated',
  'time.entry.created',
  'time.entry.updated',
  'time.entry.approved',
  'invoice.created',
  'invoice.finalized',
  'invoice.sent',
  'invoice.paid',
  'asset.created',
  'asset.updated',
  'asset.maintenance.scheduled',
  'asset.maintenance.completed',
  'system.backup.completed',
  'system.backup.failed',
  'system.maintenance.started',
  'system.maintenance.completed',
  'workflow.execution.started',
  'workflow.execution.completed',
  'workflow.execution.failed',
  'custom.event',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** The event type of a synchronous test delivery; not subscribable. */
export const TEST_EVENT_TYPE = 'webhook.test';
