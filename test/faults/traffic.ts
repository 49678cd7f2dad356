import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { drawFor } from './faulty-receiver.ts';

/**
 * Producers' events for the fault suites and the soak: event i of a run has
 * a fixed id and a type drawn from the seed, so the (event, webhook) pairs a
 * run expects follow from its seed and size alone.
 */

export interface RunWebhook {
  name: string;
  event_types: readonly string[];
}

export const producerEvent = (
  seed: number,
  index: number,
  tenant: string,
  types: readonly string[],
) => ({
  event_id: `evt-${seed}-${index}`,
  event_type: types[Math.floor(drawFor(seed, 'type', index) * types.length)] ?? types[0] ?? '',
  tenant_id: tenant,
  occurred_at: new Date().toISOString(),
  data: { id: `t-${index}`, title: 'Printer on fire', sequence: index },
});

export type ProducerEvent = ReturnType<typeof producerEvent>;

/** The event ids each webhook (by name) must get, from what it subscribes to. */
export const pairsByName = (
  webhooks: readonly RunWebhook[],
  events: readonly ProducerEvent[],
): Map<string, Set<string>> =>
  new Map(
    webhooks.map((webhook) => [
      webhook.name,
      new Set(
        events
          .filter((event) => webhook.event_types.includes(event.event_type))
          .map((event) => event.event_id),
      ),
    ]),
  );

/** Sends events ten to a request, as a busy producer would; answers the ids SQS refused. */
export const sendEvents = async (
  sqs: SQSClient,
  queueUrl: string,
  events: readonly ProducerEvent[],
): Promise<string[]> => {
  const refused: string[] = [];
  for (let start = 0; start < events.length; start += 10) {
    const chunk = events.slice(start, start + 10);
    const { Failed = [] } = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: chunk.map((event, index) => ({
          Id: String(index),
          MessageBody: JSON.stringify(event),
        })),
      }),
    );
    for (const failure of Failed) refused.push(chunk[Number(failure.Id)]?.event_id ?? '?');
  }
  return refused;
};
