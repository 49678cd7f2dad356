import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { createDocumentClient } from '../functions/commons/clients.ts';
import { integerEnv } from '../functions/commons/config.ts';
import { SqsJobQueue } from '../functions/queues/sqs.ts';
import { DeliveryRepository } from '../functions/repositories/deliveries.ts';
import { WebhookRepository } from '../functions/repositories/webhooks.ts';
import { CONFIG_TABLE, DELIVERIES_TABLE, QUEUES } from '../lib/resources.ts';
import { SqsDeadLetterQueue, SqsEventQueue } from './dead-letter-queue.ts';
import {
  listDeadLetters,
  type QueueName,
  readRequest,
  redriveDeliveries,
  redriveEvents,
} from './dlq-commands.ts';
import { localClientConfig, stackOutputs, UsageError } from './targets.ts';

/**
 * `npm run dlq`: the dead-letter queues of the local runtime (default) or a
 * deployed stack (--stack NAME, with the usual AWS credentials).
 */

const USAGE = `Usage:
  npm run dlq -- list [--queue deliveries|events] [--limit N] [--stack <name>]
  npm run dlq -- redrive [--queue deliveries|events] (--id <message id> | --all) [--stack <name>]

--queue defaults to deliveries; list shows at most --limit (default 100) dead letters and leaves
them on the queue. redrive restarts an abandoned delivery as a new attempt chain (same delivery id,
attempt numbers going on, a fresh max_attempts), sends a job whose attempt never ran again as it
was, and deletes dead letters of deliveries that have moved on; events go back to the ingest queue
as they came (a malformed one is refused again and comes back).

Without --stack it works on the local runtime: SQS on 127.0.0.1:$SQS_PORT (default 4566) and
DynamoDB on 127.0.0.1:$DYNAMODB_PORT (default 8000), or AWS_ENDPOINT_URL_SQS/_DYNAMODB; tables
$DELIVERIES_TABLE_NAME (default ${DELIVERIES_TABLE.localName}) and $TABLE_NAME (default ${CONFIG_TABLE.localName}).
With --stack it finds the queues and tables in that stack's outputs. A restarted delivery is kept
for $DELIVERY_RETENTION_DAYS (default 30) days, as the delivery function keeps it.`;

const DAY_MS = 24 * 3_600_000;

interface Locations {
  queues: Record<QueueName, { url: string; deadLetterUrl: string }>;
  deliveriesTable: string;
  configTable: string;
}

const locateStack = async (stack: string): Promise<Locations> => {
  const outputs = await stackOutputs(stack, [
    'EventsQueueUrl',
    'EventsDeadLetterQueueUrl',
    'DeliveriesQueueUrl',
    'DeliveriesDeadLetterQueueUrl',
    'DeliveriesTableName',
    'ConfigTableName',
  ]);
  return {
    queues: {
      events: { url: outputs.EventsQueueUrl, deadLetterUrl: outputs.EventsDeadLetterQueueUrl },
      deliveries: {
        url: outputs.DeliveriesQueueUrl,
        deadLetterUrl: outputs.DeliveriesDeadLetterQueueUrl,
      },
    },
    deliveriesTable: outputs.DeliveriesTableName,
    configTable: outputs.ConfigTableName,
  };
};

/** The local runtime names its queues as the stack defines them (lib/resources.ts). */
const locateLocal = async (sqs: SQSClient): Promise<Locations> => {
  const urlOf = async (name: string) => {
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
    if (!QueueUrl) throw new Error(`No queue ${name}`);
    return QueueUrl;
  };
  const queue = async (definition: { name: string; deadLetterQueue: string }) => ({
    url: await urlOf(definition.name),
    deadLetterUrl: await urlOf(definition.deadLetterQueue),
  });
  return {
    queues: { events: await queue(QUEUES.events), deliveries: await queue(QUEUES.deliveries) },
    deliveriesTable: process.env.DELIVERIES_TABLE_NAME || DELIVERIES_TABLE.localName,
    configTable: process.env.TABLE_NAME || CONFIG_TABLE.localName,
  };
};

const connect = async (stack: string | undefined) => {
  const sqs = new SQSClient(stack ? {} : localClientConfig('SQS'));
  const dynamoDb = new DynamoDBClient(stack ? {} : localClientConfig('DYNAMODB'));
  const db = createDocumentClient(dynamoDb);
  const where = stack ? await locateStack(stack) : await locateLocal(sqs);
  const retentionMs = integerEnv('DELIVERY_RETENTION_DAYS', 30, { min: 1, max: 365 }) * DAY_MS;
  return {
    deadLetters: (queue: QueueName) =>
      new SqsDeadLetterQueue(sqs, where.queues[queue].deadLetterUrl),
    ingest: new SqsEventQueue(sqs, where.queues.events.url),
    deliveries: new DeliveryRepository(db, where.deliveriesTable, retentionMs),
    webhooks: new WebhookRepository(db, where.configTable),
    jobs: new SqsJobQueue(sqs, where.queues.deliveries.url, where.queues.deliveries.deadLetterUrl),
    close: () => {
      sqs.destroy();
      dynamoDb.destroy();
    },
  };
};

const main = async (argv: string[]) => {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      queue: { type: 'string' },
      limit: { type: 'string' },
      id: { type: 'string' },
      all: { type: 'boolean' },
      stack: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const print = (line: string) => console.log(line);
  if (values.help || positionals.length === 0) return print(USAGE);
  const request = readRequest(positionals, values);
  const target = await connect(values.stack);
  try {
    const deadLetters = target.deadLetters(request.queue);
    if (request.command === 'list') {
      await listDeadLetters(deadLetters, request.queue, request.limit, print);
    } else if (request.queue === 'deliveries') {
      await redriveDeliveries({ ...target, deadLetters }, request.selection, print);
    } else {
      await redriveEvents({ deadLetters, ingest: target.ingest }, request.selection, print);
    }
  } finally {
    target.close();
  }
};

try {
  await main(process.argv.slice(2));
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  // parseArgs reports unknown options as TypeErrors with an ERR_PARSE_ARGS code.
  if (error instanceof UsageError || (error instanceof TypeError && 'code' in error)) {
    console.error(`dlq: ${message}\n\n${USAGE}`);
    process.exitCode = 2;
  } else {
    const hint = /ECONNREFUSED/.test(message) ? ' (is the local runtime running? npm start)' : '';
    console.error(`dlq: ${message}${hint}`);
    process.exitCode = 1;
  }
}
