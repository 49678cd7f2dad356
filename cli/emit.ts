import { randomUUID } from 'node:crypto';
import { GetQueueUrlCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { QUEUES } from '../lib/resources.ts';
import { EMIT_USAGE, parseEmitArgs, producerEvents, UsageError } from './emit-args.ts';
import {
  describeTried,
  type LocalEndpoint,
  localClientConfig,
  localEndpoint,
  localOutput,
  unreachableHint,
} from './targets.ts';

/**
 * `npm run emit`: events onto the ingest queue, as a producer sends them, for
 * the local runtime (default) or any queue given by URL.
 */

/** SendMessageBatch takes at most ten entries. */
const SEND_BATCH = 10;

/** The local endpoints this run used, for the message if nothing answers there. */
const tried: LocalEndpoint[] = [];

/**
 * Where to send: an endpoint variable, else the queue URL's own host, else
 * the local runtime as cli/targets.ts finds it (its ingest queue included).
 */
const connect = (queueUrl: string | undefined) => {
  const configured = process.env.AWS_ENDPOINT_URL_SQS || process.env.AWS_ENDPOINT_URL;
  if (queueUrl !== undefined && !configured) {
    const queueHost = new URL(queueUrl);
    const onAws = queueHost.hostname.endsWith('.amazonaws.com');
    return {
      client: new SQSClient({
        // Without an endpoint the SDK sends to the queue URL's AWS region.
        ...(onAws ? {} : { endpoint: queueHost.origin }),
        region: process.env.AWS_REGION ?? 'us-east-1',
        // Emulators take any credentials; AWS uses the usual ones.
        ...(onAws ? {} : { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
      }),
      queueUrl,
    };
  }
  const local = localEndpoint('SQS');
  tried.push(local);
  return {
    client: new SQSClient(localClientConfig(local)),
    queueUrl: queueUrl ?? localOutput(local, 'EventsQueueUrl'),
  };
};
const main = async (argv: string[]) => {
  const args = parseEmitArgs(argv, { tenant: process.env.WEBHOOKS_DEV_TENANT || 'dev' });
  if (args.help) return console.log(EMIT_USAGE);
  for (const warning of args.warnings) console.error(`emit: warning: ${warning}`);

  const { client, queueUrl: knownUrl } = connect(args.queueUrl);
  try {
    const queueUrl =
      knownUrl ??
      (await client.send(new GetQueueUrlCommand({ QueueName: QUEUES.events.name }))).QueueUrl;
    if (!queueUrl) throw new Error(`No URL for queue ${QUEUES.events.name}`);

    const events = producerEvents(args, new Date(), randomUUID);
    let failed = 0;
    for (let start = 0; start < events.length; start += SEND_BATCH) {
      const chunk = events.slice(start, start + SEND_BATCH);
      const { Failed } = await client.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: chunk.map((event, index) => ({
            Id: String(index),
            MessageBody: JSON.stringify(event),
          })),
        }),
      );
      const refused = new Set((Failed ?? []).map((failure) => failure.Id));
      for (const failure of Failed ?? []) console.error(`emit: not sent: ${failure.Message}`);
      failed += refused.size;
      chunk.forEach((event, index) => {
        if (!refused.has(String(index))) console.log(event.event_id);
      });
    }
    const sent = events.length - failed;
    console.error(
      `emit: sent ${sent} ${args.eventType} event(s) for ${args.tenant} to ${queueUrl}`,
    );
    if (failed > 0) process.exitCode = 1;
  } finally {
    client.destroy();
  }
};

try {
  await main(process.argv.slice(2));
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof UsageError) {
    console.error(`emit: ${message}\n\n${EMIT_USAGE}`);
    process.exitCode = 2;
  } else {
    const name = error instanceof Error ? error.name : '';
    const hint =
      /QueueDoesNotExist/.test(name) && tried.length > 0
        ? ` (no queue ${QUEUES.events.name} at ${describeTried(tried)}: is the local runtime running? npm start)`
        : unreachableHint(message, tried);
    console.error(`emit: ${message}${hint}`);
    process.exitCode = 1;
  }
}
