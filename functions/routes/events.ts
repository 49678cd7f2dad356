import { randomUUID } from 'node:crypto';
import { ValidationError } from '../domain/errors.ts';
import { checkPublishBody, type EventQueue, publishBodySchema } from '../domain/events/publish.ts';
import { MAX_LISTED_PROBLEMS } from '../domain/validation.ts';
import { json } from '../http/responses.ts';
import type { Route } from '../http/router.ts';
import { publishAnswerSchema } from './answers.ts';

/**
 * Producers that do not use SQS publish here: the events are checked as the
 * fan-out checks them and put on the ingest queue, where they go the same
 * way as any producer's message.
 */

export const eventRoutes = (
  queue: EventQueue,
  now: () => Date = () => new Date(),
  newId: () => string = randomUUID,
): Route[] => [
  {
    method: 'POST',
    path: '/events',
    permission: 'publish',
    docs: {
      summary: 'Publish events',
      description:
        'One event, or `{"events": [...]}` with up to 10, checked as the ingest queue checks them and queued for delivery (202). `tenant_id` is the key\'s and may be left out. `event_id` is the idempotency key: an event sent again with the same id is delivered once per webhook; an event without one gets a new id, which the answer gives. One bad event refuses the request (400, naming its fields) and nothing of it is queued.',
      body: publishBodySchema,
      success: { status: 202, description: 'Queued', schema: publishAnswerSchema },
    },
    handle: async (request) => {
      const checked = checkPublishBody(request.body(), request.principal.tenant, {
        now: now(),
        newId,
      });
      if (!checked.ok) {
        const listed = checked.problems.slice(0, MAX_LISTED_PROBLEMS);
        const more =
          listed.length < checked.problems.length
            ? ` (the first ${listed.length} of ${checked.problems.length} problems are listed)`
            : '';
        throw new ValidationError(listed, `The events are invalid; none was queued${more}`);
      }
      await queue.send(checked.events);
      return json(202, { data: { event_ids: checked.events.map((event) => event.event_id) } });
    },
  },
];
