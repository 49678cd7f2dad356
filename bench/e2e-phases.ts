import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { paginateQuery } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../functions/commons/clients.ts';
import { deliverySort, KEYS, webhookPartition } from '../functions/commons/table.ts';
import { deliveryIdTime } from '../functions/domain/delivery/ids.ts';
import { DELIVERIES_TABLE } from '../lib/resources.ts';
import { percentile } from './support.ts';

/**
 * Where an event's time goes between its scheduled send and its arrival,
 * read back from what the runtime recorded: the delivery id carries the
 * fan-out's clock when it took the event, the record's created_at the
 * delivery function's clock when its batch began, and the attempt its HTTP
 * exchange's duration.
 */

export const quantiles = (samples: readonly number[]) => {
  const sorted = samples.toSorted((a, b) => a - b);
  const at = (p: number) => Math.round(percentile(sorted, p) * 10) / 10;
  return { count: sorted.length, p50: at(50), p95: at(95), p99: at(99), max: at(100) };
};

interface StoredDelivery {
  delivery_id: string;
  created_at: string;
  event: { event_id: string };
  attempts: { duration_ms: number }[];
}

export const phasesOf = async (input: {
  dynamoDbEndpoint: string;
  webhookId: string;
  /** Scheduled send time by event id. */
  scheduled: ReadonlyMap<string, number>;
  /** First arrival at the receiver by event id. */
  arrivals: ReadonlyMap<string, number>;
}) => {
  const client = new DynamoDBClient({
    endpoint: input.dynamoDbEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const db = createDocumentClient(client);
  const phases = {
    'send -> fan-out took it': [] as number[],
    'fan-out -> delivery batch began': [] as number[],
    'delivery batch began -> arrival': [] as number[],
    '  of which the HTTP exchange': [] as number[],
  };
  try {
    const query = {
      TableName: DELIVERIES_TABLE.localName,
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
      ExpressionAttributeNames: { '#pk': KEYS.partition, '#sk': KEYS.sort },
      ExpressionAttributeValues: {
        ':pk': webhookPartition(input.webhookId),
        ':prefix': deliverySort(''),
      },
    };
    for await (const page of paginateQuery({ client: db }, query)) {
      for (const item of (page.Items ?? []) as StoredDelivery[]) {
        const sentAt = input.scheduled.get(item.event.event_id);
        const arrivedAt = input.arrivals.get(item.event.event_id);
        if (sentAt === undefined || arrivedAt === undefined) continue;
        const fannedOutAt = deliveryIdTime(item.delivery_id);
        const batchBeganAt = Date.parse(item.created_at);
        phases['send -> fan-out took it'].push(fannedOutAt - sentAt);
        phases['fan-out -> delivery batch began'].push(batchBeganAt - fannedOutAt);
        phases['delivery batch began -> arrival'].push(arrivedAt - batchBeganAt);
        const http = item.attempts[0]?.duration_ms;
        if (http !== undefined) phases['  of which the HTTP exchange'].push(http);
      }
    }
  } finally {
    client.destroy();
  }
  return {
    note: 'fan-out and delivery clocks are the runtime process’s Date (1 ms steps); sends and arrivals are sub-millisecond',
    summaries: Object.fromEntries(
      Object.entries(phases).map(([name, samples]) => [name, quantiles(samples)]),
    ),
  };
};
