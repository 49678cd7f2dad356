import * as v from 'valibot';
import { parseDeliveryJob } from '../functions/domain/delivery/jobs.ts';
import { type DeadLetter, type DeadLetterQueue, SinglePass } from './dead-letter-queue.ts';
import {
  type DeliveryRedriveTarget,
  type LetterOutcome,
  redriveDelivery,
} from './delivery-redrive.ts';
import { UsageError } from './targets.ts';

/** The dlq CLI's commands, apart from parsing the command line and connecting. */

export const QUEUE_NAMES = ['deliveries', 'events'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];
const queueNameSchema = v.picklist(QUEUE_NAMES);

export type Selection = { all: true } | { id: string };

export interface DlqRequest {
  command: 'list' | 'redrive';
  queue: QueueName;
  limit: number;
  selection: Selection;
}

export const DEFAULT_LIMIT = 100;

/** The command line's options, checked; what parseArgs cannot check itself. */
export const readRequest = (
  positionals: readonly string[],
  options: {
    queue?: string | undefined;
    limit?: string | undefined;
    id?: string | undefined;
    all?: boolean | undefined;
  },
): DlqRequest => {
  const [command, ...extra] = positionals;
  if (command !== 'list' && command !== 'redrive') {
    throw new UsageError(`Unknown command ${command ?? ''}`.trim());
  }
  if (extra.length > 0) throw new UsageError(`Unexpected arguments: ${extra.join(' ')}`);
  const queue = options.queue ?? 'deliveries';
  if (!v.is(queueNameSchema, queue)) {
    throw new UsageError(`--queue must be ${QUEUE_NAMES.join(' or ')}; got ${queue}`);
  }
  if (command === 'list') {
    if (options.id !== undefined || options.all)
      throw new UsageError('list takes no --id or --all');
    const limit = options.limit === undefined ? DEFAULT_LIMIT : Number(options.limit);
    if (!Number.isInteger(limit) || limit < 1) {
      throw new UsageError(`--limit must be a whole number from 1; got ${options.limit}`);
    }
    return { command, queue, limit, selection: { all: true } };
  }
  if (options.limit !== undefined) throw new UsageError('redrive takes no --limit');
  if ((options.id === undefined) === !options.all) {
    throw new UsageError('redrive needs either --id <message id> or --all');
  }
  if (options.id === '') throw new UsageError('--id must not be empty');
  const selection: Selection = options.id === undefined ? { all: true } : { id: options.id };
  return { command, queue, limit: Number.POSITIVE_INFINITY, selection };
};

type Print = (line: string) => void;

/** Long enough to list a queue; the messages reappear by themselves should the CLI die. */
const LIST_HIDE_SECONDS = 30;
/** Long enough for a pass to redrive each message it holds. */
const REDRIVE_HIDE_SECONDS = 120;

const SQS_MOVED = 'moved by SQS after repeated failures';

/** A body's head on one line. */
const head = (body: string, length = 200) => body.slice(0, length).replace(/\s+/g, ' ');

const deliveryRow = (letter: DeadLetter): string[] => {
  const job = parseDeliveryJob(letter.body);
  const reason = letter.reason ?? SQS_MOVED;
  const sent = letter.sentAt ?? '-';
  if (!job) {
    const unknown = ['-', '-', '-', '-', '-'];
    return [letter.messageId, ...unknown, sent, `not a delivery job: ${head(letter.body)}`];
  }
  return [
    letter.messageId,
    job.delivery_id,
    job.webhook_id,
    job.tenant,
    job.event.event_type,
    String(job.attempt),
    sent,
    reason,
  ];
};

const eventRow = (letter: DeadLetter): string[] => [
  letter.messageId,
  letter.sentAt ?? '-',
  letter.reason ?? SQS_MOVED,
  head(letter.body),
];

const HEADERS: Record<QueueName, string[]> = {
  deliveries: [
    'MESSAGE ID',
    'DELIVERY ID',
    'WEBHOOK ID',
    'TENANT',
    'EVENT TYPE',
    'ATTEMPT',
    'SENT',
    'REASON',
  ],
  events: ['MESSAGE ID', 'SENT', 'REASON', 'BODY'],
};

/** Prints the dead letters without taking them off the queue. */
export const listDeadLetters = async (
  queue: DeadLetterQueue,
  which: QueueName,
  limit: number,
  print: Print,
): Promise<number> => {
  const pass = new SinglePass(queue, LIST_HIDE_SECONDS);
  let count = 0;
  for await (const letter of pass.letters(limit)) {
    if (count === 0) print(HEADERS[which].join('\t'));
    print((which === 'deliveries' ? deliveryRow(letter) : eventRow(letter)).join('\t'));
    count += 1;
  }
  if (count === 0) print('No dead letters.');
  else if (count === limit) print(`Showed the first ${limit}; there may be more (--limit).`);
  return count;
};

type Tally = Record<LetterOutcome['outcome'], number>;

const redriveEach = async (
  queue: DeadLetterQueue,
  selection: Selection,
  print: Print,
  redrive: (letter: DeadLetter) => Promise<LetterOutcome>,
): Promise<Tally> => {
  const tally: Tally = { redriven: 0, deleted: 0, kept: 0 };
  const pass = new SinglePass(queue, REDRIVE_HIDE_SECONDS);
  let found = false;
  for await (const letter of pass.letters(Number.POSITIVE_INFINITY)) {
    if ('id' in selection && letter.messageId !== selection.id) continue;
    found = true;
    const { outcome, message } = await redrive(letter);
    if (outcome !== 'kept') await pass.remove(letter);
    tally[outcome] += 1;
    print(`${letter.messageId}: ${message}`);
    if ('id' in selection) break;
  }
  if ('id' in selection && !found) {
    throw new UsageError(`No dead letter ${selection.id} (see list)`);
  }
  if (!found) print('No dead letters.');
  else {
    print(
      `Redriven ${tally.redriven}, deleted without redrive ${tally.deleted}, left ${tally.kept}.`,
    );
  }
  if (pass.arrivedSince > 0) {
    print(
      `${pass.arrivedSince} more arrived meanwhile (redriven ones failing again?); not touched.`,
    );
  }
  return tally;
};

export const redriveDeliveries = (
  target: DeliveryRedriveTarget & { deadLetters: DeadLetterQueue },
  selection: Selection,
  print: Print,
): Promise<Tally> =>
  redriveEach(target.deadLetters, selection, print, (letter) =>
    redriveDelivery(target, letter.body),
  );

export interface EventRedriveTarget {
  deadLetters: DeadLetterQueue;
  ingest: { send(body: string): Promise<void> };
}

/**
 * Sends events back to the ingest queue as they came. SQS moved those
 * without a reason after the fan-out failed on them; they may go through
 * now. Those with a reason were refused as malformed and will be again.
 */
export const redriveEvents = (
  target: EventRedriveTarget,
  selection: Selection,
  print: Print,
): Promise<Tally> =>
  redriveEach(target.deadLetters, selection, print, async (letter) => {
    await target.ingest.send(letter.body);
    return {
      outcome: 'redriven',
      message: letter.reason
        ? `sent back, but it was refused (${letter.reason}); it will come back here unless fixed at its source`
        : 'sent back to the ingest queue',
    };
  });
