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
import {
  type LocalEndpoint,
  localClientConfig,
  localEndpoint,
  localOutput,
  stackOutputs,
  UsageError,
  unreachableHint,
} from './targets.ts';

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

Without --stack it works on the local runtime. Each of SQS and DynamoDB is found at
AWS_ENDPOINT_URL_SQS/_DYNAMODB, else 127.0.0.1:$SQS_PORT/$DYNAMODB_PORT, else where the running
runtime's .hookline/endpoints.json (in $HOOKLINE_DATA_DIR) says, queues and tables included, else
ports 4566 and 8000. Tables: $DELIVERIES_TABLE_NAME and $TABLE_NAME, else the runtime's, else
${DELIVERIES_TABLE.localName} and ${CONFIG_TABLE.localName}.
With --stack it finds the queues and tables in that stack's outputs. A restarted delivery is kept
for $DELIVERY_RETENTION_DAYS (default 30) days, as the delivery function keeps it.`;

const DAY_MS = 24 * 3_600_000;

interface Locations {
  queues: Record<QueueName, { url: string; deadLetterUrl: string }>;
  deliveriesTable: string;
  configTable: string;
}

const OUTPUTS = [
  'EventsQueueUrl',
  'EventsDeadLetterQueueUrl',
  'DeliveriesQueueUrl',
  'DeliveriesDeadLetterQueueUrl',
  'DeliveriesTableName',
  'ConfigTableName',
] as const;

/** Where a deployed stack's outputs say the queues and tables are. */
const locationsFrom = (outputs: Record<(typeof OUTPUTS)[number], string>): Locations => ({
  queues: {
    events: { url: outputs.EventsQueueUrl, deadLetterUrl: outputs.EventsDeadLetterQueueUrl },
    deliveries: {
      url: outputs.DeliveriesQueueUrl,
      deadLetterUrl: outputs.DeliveriesDeadLetterQueueUrl,
    },
  },
  deliveriesTable: outputs.DeliveriesTableName,
  configTable: outputs.ConfigTableName,
});

const locateStack = async (stack: string): Promise<Locations> =>
  locationsFrom(await stackOutputs(stack, OUTPUTS));

/**
 * The running runtime's queues and tables when its endpoints file named the
 * service; else the queues by the names the stack gives them (lib/resources.ts).
 */
const locateLocal = async (
  sqs: SQSClient,
  targets: { sqs: LocalEndpoint; dynamoDb: LocalEndpoint },
): Promise<Locations> => {
  const urlOf = async (output: string, name: string) => {
    const known = localOutput(targets.sqs, output);
    if (known) return known;
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
    if (!QueueUrl) throw new Error(`No queue ${name}`);
    return QueueUrl;
  };
  const table = (variable: string, output: string, fallback: string) =>
    process.env[variable] || localOutput(targets.dynamoDb, output) || fallback;
  return {
    queues: {
      events: {
        url: await urlOf('EventsQueueUrl', QUEUES.events.name),
        deadLetterUrl: await urlOf('EventsDeadLetterQueueUrl', QUEUES.events.deadLetterQueue),
      },
      deliveries: {
        url: await urlOf('DeliveriesQueueUrl', QUEUES.deliveries.name),
        deadLetterUrl: await urlOf(
          'DeliveriesDeadLetterQueueUrl',
          QUEUES.deliveries.deadLetterQueue,
        ),
      },
    },
    deliveriesTable: table(
      'DELIVERIES_TABLE_NAME',
      'DeliveriesTableName',
      DELIVERIES_TABLE.localName,
    ),
    configTable: table('TABLE_NAME', 'ConfigTableName', CONFIG_TABLE.localName),
  };
};

/** The local endpoints this run used, for the message if nothing answers there. */
const tried: LocalEndpoint[] = [];

const connect = async (stack: string | undefined) => {
  const local = stack
    ? undefined
    : { sqs: localEndpoint('SQS'), dynamoDb: localEndpoint('DYNAMODB') };
  if (local) tried.push(local.sqs, local.dynamoDb);
  const sqs = new SQSClient(local ? localClientConfig(local.sqs) : {});
  const dynamoDb = new DynamoDBClient(local ? localClientConfig(local.dynamoDb) : {});
  const db = createDocumentClient(dynamoDb);
  const where = local ? await locateLocal(sqs, local) : await locateStack(stack ?? '');
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
    console.error(`dlq: ${message}${unreachableHint(message, tried)}`);
    process.exitCode = 1;
  }
}
