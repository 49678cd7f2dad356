import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../lib/app.ts';
import { ALARM_THRESHOLDS, METRICS } from '../../lib/resources.ts';

/**
 * What an operator gets from `cdk deploy`: alarms on each way the service
 * fails, all sent to one topic; a dashboard over the same metrics; and the
 * policy a producer attaches.
 */

const synth = (context: Record<string, unknown> = {}) =>
  Template.fromStack(createApp({ context, bundle: false, nag: false }).stack);
const template = synth();

const alarms = (): (Record<string, unknown> & { id: string })[] =>
  Object.entries(template.findResources('AWS::CloudWatch::Alarm')).map(([id, alarm]) => ({
    ...(alarm.Properties as Record<string, unknown>),
    id,
  }));
const alarmNamed = (prefix: string) => {
  const found = alarms().filter((alarm) => alarm.id.startsWith(`Monitoring${prefix}`));
  expect(found, prefix).toHaveLength(1);
  return found[0] as Record<string, unknown>;
};
const topicId = Object.keys(template.findResources('AWS::SNS::Topic'))[0];

describe('alarms', () => {
  it('all notify the alarm topic, on alarm and on recovery', () => {
    // Each queue's age, each dead-letter queue's depth, two per function, three on rates.
    expect(alarms().length).toBeGreaterThanOrEqual(4 + 2 + 8 + 3);
    for (const alarm of alarms()) {
      expect(alarm.AlarmActions).toEqual([{ Ref: topicId }]);
      expect(alarm.OKActions).toEqual([{ Ref: topicId }]);
      expect(alarm.TreatMissingData).toBe('notBreaching');
      expect(alarm.ComparisonOperator).toBe('GreaterThanOrEqualToThreshold');
    }
  });

  it.each([
    [
      'EventsDeadLetterQueueDepth',
      'ApproximateNumberOfMessagesVisible',
      ALARM_THRESHOLDS.deadLetters,
    ],
    [
      'DeliveriesDeadLetterQueueDepth',
      'ApproximateNumberOfMessagesVisible',
      ALARM_THRESHOLDS.deadLetters,
    ],
    ['EventsQueueAge', 'ApproximateAgeOfOldestMessage', ALARM_THRESHOLDS.ingestAgeSeconds],
    ['DeliveriesQueueAge', 'ApproximateAgeOfOldestMessage', ALARM_THRESHOLDS.deliveriesAgeSeconds],
    [
      'EventsDeadLetterQueueAge',
      'ApproximateAgeOfOldestMessage',
      ALARM_THRESHOLDS.deadLetterAgeSeconds,
    ],
    [
      'DeliveriesDeadLetterQueueAge',
      'ApproximateAgeOfOldestMessage',
      ALARM_THRESHOLDS.deadLetterAgeSeconds,
    ],
  ])('%s watches %s of its queue at %s', (name, metric, threshold) => {
    const alarm = alarmNamed(name);
    expect(alarm).toMatchObject({ Namespace: 'AWS/SQS', MetricName: metric, Threshold: threshold });
    const queue = name.replace(/(Depth|Age)$/, '');
    expect(JSON.stringify(alarm.Dimensions)).toContain(queue);
  });

  it.each(['Api', 'Authorizer', 'FanOut', 'Delivery'])(
    'watch errors and throttles of the %s function',
    (fn) => {
      expect(alarmNamed(`${fn}Errors`)).toMatchObject({
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Statistic: 'Sum',
        Threshold: ALARM_THRESHOLDS.functionErrors,
      });
      expect(alarmNamed(`${fn}Throttles`)).toMatchObject({
        MetricName: 'Throttles',
        Threshold: ALARM_THRESHOLDS.functionThrottles,
      });
    },
  );

  it('watch the fleet’s delivery failure rate from the functions’ own metrics', () => {
    const alarm = alarmNamed('DeliveryFailureRate');
    expect(alarm.Threshold).toBe(ALARM_THRESHOLDS.deliveryFailurePercent);
    expect(alarm.EvaluationPeriods).toBe(3);
    const metrics = alarm.Metrics as { Expression?: string; MetricStat?: unknown }[];
    expect(metrics.find((metric) => metric.Expression)?.Expression).toBe(
      '100 * failure / (success + failure)',
    );
    for (const result of ['success', 'failure']) {
      expect(metrics).toContainEqual(
        expect.objectContaining({
          Id: result,
          MetricStat: expect.objectContaining({
            Metric: {
              Namespace: METRICS.namespace,
              MetricName: METRICS.attempts,
              Dimensions: expect.arrayContaining([
                { Name: 'service', Value: METRICS.service },
                { Name: 'Result', Value: result },
              ]),
            },
          }),
        }),
      );
    }
  });

  it('watch the API’s 5xx and the authorizer’s error rate', () => {
    expect(alarmNamed('Api5xx')).toMatchObject({
      Namespace: 'AWS/ApiGateway',
      MetricName: '5XXError',
      Threshold: ALARM_THRESHOLDS.api5xx,
    });
    const authorizer = alarmNamed('AuthorizerErrorRate');
    expect(authorizer.Threshold).toBe(ALARM_THRESHOLDS.authorizerErrorPercent);
    expect(JSON.stringify(authorizer.Metrics)).toContain('"MetricName":"Invocations"');
  });

  it('go to an encrypted topic, mailed when alarmEmail is set', () => {
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: Match.objectLike({ 'Fn::GetAtt': Match.anyValue() }),
    });
    template.resourceCountIs('AWS::SNS::Subscription', 0);
    synth({ alarmEmail: 'ops@example.com' }).hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
  });
});

describe('the dashboard', () => {
  it('shows throughput, latency, failures by class, queues and functions', () => {
    const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
    const body = JSON.stringify(dashboard?.Properties.DashboardBody);
    for (const metric of [
      METRICS.deliveries,
      METRICS.deliveryLatency,
      METRICS.endToEndLag,
      METRICS.attemptErrors,
      METRICS.fanOutMatches,
      METRICS.eventsRejected,
      METRICS.rateLimitWaits,
      METRICS.webhooksAutoDisabled,
      'NumberOfMessagesSent',
      'ApproximateNumberOfMessagesVisible',
      'ApproximateAgeOfOldestMessage',
      'Duration',
      'ConcurrentExecutions',
    ]) {
      expect(body, metric).toContain(metric);
    }
    for (const title of ['Throughput', 'latency', 'by class', 'Queue depth', 'concurrency']) {
      expect(body).toContain(title);
    }
  });
});

describe('the producer policy', () => {
  it('allows sqs:SendMessage on the ingest queue, exactly, and is an output', () => {
    const policies = Object.values(template.findResources('AWS::IAM::ManagedPolicy'));
    expect(policies).toHaveLength(1);
    expect(policies[0]?.Properties.PolicyDocument.Statement).toEqual([
      {
        Effect: 'Allow',
        Action: 'sqs:SendMessage',
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^EventsQueue/), 'Arn'] },
      },
    ]);
    template.hasOutput('ProducerPolicyArn', {
      Value: { Ref: Match.stringLikeRegexp('^ProducerPolicy') },
    });
  });
});
