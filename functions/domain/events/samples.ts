import type { EventType } from './catalog.ts';

/**
 * A sample event of every catalog type, for previews: the data a producer of
 * that type would plausibly send, so a preview shows what payload_fields, a
 * transformation or a template make of a realistic event. Fixed values, so
 * the same preview gives the same body.
 */

export interface SampleEvent {
  entity_id: string;
  data: Record<string, unknown>;
}

const CLIENT_ID = '6f1d2c3b-4a59-4e8d-9c7b-0a1b2c3d4e5f';
const USER_ID = '2b7c9d1e-3f4a-4b5c-8d6e-7f8a9b0c1d2e';
const AT = '2026-01-15T09:30:00.000Z';

/** What every event of an entity carries. Keyed by the event type's first segment. */
const ENTITIES: Record<string, SampleEvent> = {
  ticket: {
    entity_id: '0c4e8f2a-1b3d-4c5e-9f7a-2b4d6e8f0a1c',
    data: {
      ticket_id: '0c4e8f2a-1b3d-4c5e-9f7a-2b4d6e8f0a1c',
      ticket_number: 'TIC-1042',
      title: 'Printer on the second floor is offline',
      status: 'open',
      priority: 'high',
      client_id: CLIENT_ID,
      client_name: 'Acme Corp',
      created_at: AT,
    },
  },
  project: {
    entity_id: '3d5f7a9b-2c4e-4d6f-8a0b-1c3e5f7a9b2d',
    data: {
      project_id: '3d5f7a9b-2c4e-4d6f-8a0b-1c3e5f7a9b2d',
      project_name: 'Office network refresh',
      status: 'active',
      client_id: CLIENT_ID,
      start_date: '2026-01-05',
      end_date: '2026-03-31',
    },
  },
  client: {
    entity_id: CLIENT_ID,
    data: {
      client_id: CLIENT_ID,
      client_name: 'Acme Corp',
      email: 'it@acme.example',
      phone: '+1 555 0100',
      is_inactive: false,
    },
  },
  contact: {
    entity_id: '8e0a2c4e-6f8a-4b0c-9d2e-4f6a8c0e2a4c',
    data: {
      contact_id: '8e0a2c4e-6f8a-4b0c-9d2e-4f6a8c0e2a4c',
      full_name: 'Dana Rivera',
      email: 'dana.rivera@acme.example',
      client_id: CLIENT_ID,
    },
  },
  time: {
    entity_id: '5a7c9e1b-3d5f-4a7c-8e0b-2d4f6a8c0e1b',
    data: {
      entry_id: '5a7c9e1b-3d5f-4a7c-8e0b-2d4f6a8c0e1b',
      user_id: USER_ID,
      work_item_type: 'ticket',
      work_item_id: '0c4e8f2a-1b3d-4c5e-9f7a-2b4d6e8f0a1c',
      start_time: '2026-01-15T09:00:00.000Z',
      end_time: '2026-01-15T10:30:00.000Z',
      billable_duration: 90,
      notes: 'Replaced the network card',
    },
  },
  invoice: {
    entity_id: '9b1d3f5a-7c9e-4b1d-8f3a-5c7e9b1d3f5a',
    data: {
      invoice_id: '9b1d3f5a-7c9e-4b1d-8f3a-5c7e9b1d3f5a',
      invoice_number: 'INV-2026-0007',
      client_id: CLIENT_ID,
      status: 'draft',
      total_amount: 1250,
      currency_code: 'USD',
      due_date: '2026-02-14',
    },
  },
  asset: {
    entity_id: '4c6e8a0c-2e4a-4c6e-9a0c-6e8a0c2e4a6c',
    data: {
      asset_id: '4c6e8a0c-2e4a-4c6e-9a0c-6e8a0c2e4a6c',
      asset_tag: 'LT-0042',
      name: 'Reception laptop',
      asset_type: 'workstation',
      status: 'active',
      client_id: CLIENT_ID,
    },
  },
  system: {
    entity_id: '7d9f1b3d-5f7a-4d9f-8b3d-7f9b1d3f5a7d',
    data: { component: 'database', environment: 'production', started_at: AT },
  },
  workflow: {
    entity_id: '1e3a5c7e-9a1c-4e3a-8c7e-9a1c3e5a7c9e',
    data: {
      workflow_id: '1e3a5c7e-9a1c-4e3a-8c7e-9a1c3e5a7c9e',
      workflow_name: 'New client onboarding',
      execution_id: '6b8d0f2b-4d6f-4b8d-9f2b-6d8f0b2d4f6b',
      status: 'running',
      started_at: AT,
    },
  },
  custom: {
    entity_id: '2f4b6d8f-0b2d-4f4b-8d8f-0b2d4f6b8d0f',
    data: { name: 'sample', message: 'A custom event from your own code' },
  },
};

const TASK = {
  task_id: '0d2f4b6d-8f0b-4d2f-9b6d-8f0b2d4f6b8d',
  task_name: 'Replace core switch',
  status: 'in_progress',
};

/** What an event type adds to (or changes in) its entity's data. */
const CHANGES: Partial<Record<EventType, Record<string, unknown>>> = {
  'ticket.updated': { changes: { priority: { from: 'medium', to: 'high' } } },
  'ticket.status_changed': { previous_status: 'open', status: 'in_progress' },
  'ticket.assigned': { assigned_to: USER_ID, assigned_to_name: 'Sam Lee' },
  'ticket.closed': { status: 'closed', closed_at: AT, resolution: 'Replaced the fuser' },
  'ticket.comment.added': {
    comment: {
      comment_id: 'c-1042-3',
      author: 'Sam Lee',
      text: 'On site now.',
      is_internal: false,
    },
  },
  'project.updated': { changes: { end_date: { from: '2026-03-15', to: '2026-03-31' } } },
  'project.status_changed': { previous_status: 'planned', status: 'active' },
  'project.assigned': { assigned_to: USER_ID, assigned_to_name: 'Sam Lee' },
  'project.closed': { status: 'closed', closed_at: AT },
  'project.completed': { status: 'closed', closed_at: AT },
  'project.task.created': { task: TASK },
  'project.task.updated': {
    task: TASK,
    changes: { task_name: { from: 'Switch', to: TASK.task_name } },
  },
  'project.task.status_changed': { task: TASK, previous_status: 'todo', status: 'in_progress' },
  'project.task.assigned': { task: { ...TASK, assigned_to: USER_ID } },
  'project.task.completed': { task: { ...TASK, status: 'done', completed_at: AT } },
  'client.updated': { changes: { phone: { from: '+1 555 0199', to: '+1 555 0100' } } },
  'contact.updated': {
    changes: { email: { from: 'dana@acme.example', to: 'dana.rivera@acme.example' } },
  },
  'time.entry.updated': { changes: { billable_duration: { from: 60, to: 90 } } },
  'time.entry.approved': { approval_status: 'approved', approved_by: USER_ID, approved_at: AT },
  'invoice.finalized': { status: 'finalized', finalized_at: AT },
  'invoice.sent': { status: 'sent', sent_at: AT, sent_to: 'billing@acme.example' },
  'invoice.paid': { status: 'paid', paid_at: AT, amount_paid: 1250 },
  'asset.updated': { changes: { status: { from: 'in_repair', to: 'active' } } },
  'asset.maintenance.scheduled': {
    maintenance: {
      schedule_id: 'm-42',
      type: 'preventive',
      scheduled_for: '2026-02-01T08:00:00.000Z',
    },
  },
  'asset.maintenance.completed': {
    maintenance: { schedule_id: 'm-42', type: 'preventive', completed_at: AT },
  },
  'system.backup.completed': { backup_id: 'b-20260115', size_bytes: 73_400_320, finished_at: AT },
  'system.backup.failed': { backup_id: 'b-20260115', error: 'Disk quota exceeded' },
  'system.maintenance.started': { window_minutes: 30, reason: 'Database upgrade' },
  'system.maintenance.completed': { window_minutes: 30, finished_at: AT },
  'workflow.execution.completed': { status: 'completed', completed_at: AT },
  'workflow.execution.failed': { status: 'failed', error: 'Step "Create mailbox" timed out' },
};

const CHANGES_BY_TYPE: ReadonlyMap<string, Record<string, unknown>> = new Map(
  Object.entries(CHANGES),
);

/** The sample of a catalog type: its entity's data with what the type changes. */
export const sampleEvent = (eventType: string): SampleEvent => {
  const entity = ENTITIES[eventType.split('.')[0] ?? ''] ?? ENTITIES.custom;
  if (!entity) throw new Error(`No sample for ${eventType}`);
  return {
    entity_id: entity.entity_id,
    data: structuredClone({ ...entity.data, ...CHANGES_BY_TYPE.get(eventType) }),
  };
};
