import { Duration, Stack } from 'aws-cdk-lib';
import type { RestApi } from 'aws-cdk-lib/aws-apigateway';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ALARM_THRESHOLDS, METRICS } from '../resources.ts';

export interface MonitoredQueue {
  name: string;
  queue: IQueue;
  /** A dead-letter queue: any message in it is a problem. */
  deadLetters: boolean;
  /** How old its oldest message may grow before someone is woken. */
  maxAgeSeconds: number;
}

export interface MonitoringProps {
  queues: readonly MonitoredQueue[];
  functions: readonly { name: string; fn: IFunction }[];
  authorizer: IFunction;
  api: RestApi;
  /** Where alarms are mailed, besides the topic (CDK context alarmEmail). */
  alarmEmail?: string | undefined;
}

const FIVE_MINUTES = Duration.minutes(5);

const own = (name: string, statistic: string, dimensions: Record<string, string> = {}) =>
  new Metric({
    namespace: METRICS.namespace,
    metricName: name,
    statistic,
    period: FIVE_MINUTES,
    dimensionsMap: { service: METRICS.service, ...dimensions },
  });

/**
 * What an operator watches: alarms on every way the service fails, into one
 * SNS topic (and an optional e-mail), and one dashboard. Thresholds live in
 * lib/resources.ts (ALARM_THRESHOLDS), each with its reason in
 * docs/operations.md ("Alarms").
 */
export class Monitoring extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    // CloudWatch cannot publish to a topic under the AWS managed SNS key: a key of our own.
    const key = new Key(this, 'AlarmTopicKey', {
      enableKeyRotation: true,
      description: 'Encrypts the alarm topic; CloudWatch may use it to publish',
    });
    key.grant(
      new ServicePrincipal('cloudwatch.amazonaws.com'),
      'kms:Decrypt',
      'kms:GenerateDataKey*',
    );
    this.topic = new Topic(this, 'AlarmTopic', {
      displayName: `${Stack.of(this).stackName} alarms`,
      enforceSSL: true,
      masterKey: key,
    });
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
    const action = new SnsAction(this.topic);
    const alarm = (
      id: string,
      metric: IMetric,
      threshold: number,
      description: string,
      evaluationPeriods = 1,
    ) => {
      const created = new Alarm(this, id, {
        metric,
        threshold,
        evaluationPeriods,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: `${description} Runbook: docs/operations.md, "Alarms".`,
      });
      created.addAlarmAction(action);
      created.addOkAction(action);
      this.alarms.push(created);
      return created;
    };

    for (const { name, queue, deadLetters, maxAgeSeconds } of props.queues) {
      if (deadLetters) {
        alarm(
          `${name}Depth`,
          queue.metricApproximateNumberOfMessagesVisible({
            period: FIVE_MINUTES,
            statistic: 'Maximum',
          }),
          ALARM_THRESHOLDS.deadLetters,
          `Messages are waiting in ${name}.`,
        );
      }
      alarm(
        `${name}Age`,
        queue.metricApproximateAgeOfOldestMessage({ period: FIVE_MINUTES, statistic: 'Maximum' }),
        maxAgeSeconds,
        `The oldest message in ${name} is older than ${maxAgeSeconds} s.`,
        2,
      );
    }
    for (const { name, fn } of props.functions) {
      alarm(
        `${name}Errors`,
        fn.metricErrors({ period: FIVE_MINUTES, statistic: 'Sum' }),
        ALARM_THRESHOLDS.functionErrors,
        `The ${name} function failed (uncaught errors or timeouts).`,
      );
      alarm(
        `${name}Throttles`,
        fn.metricThrottles({ period: FIVE_MINUTES, statistic: 'Sum' }),
        ALARM_THRESHOLDS.functionThrottles,
        `The ${name} function was throttled.`,
      );
    }
    const failureRate = new MathExpression({
      expression: '100 * failure / (success + failure)',
      usingMetrics: {
        success: own(METRICS.attempts, 'Sum', { Result: 'success' }),
        failure: own(METRICS.attempts, 'Sum', { Result: 'failure' }),
      },
      period: FIVE_MINUTES,
      label: 'Failed attempts (%)',
    });
    alarm(
      'DeliveryFailureRate',
      failureRate,
      ALARM_THRESHOLDS.deliveryFailurePercent,
      `More than ${ALARM_THRESHOLDS.deliveryFailurePercent}% of delivery attempts failed, fleet-wide.`,
      3,
    );
    const apiDimensions = {
      ApiName: props.api.restApiName,
      Stage: props.api.deploymentStage.stageName,
    };
    alarm(
      'Api5xx',
      new Metric({
        namespace: 'AWS/ApiGateway',
        metricName: '5XXError',
        statistic: 'Sum',
        period: FIVE_MINUTES,
        dimensionsMap: apiDimensions,
      }),
      ALARM_THRESHOLDS.api5xx,
      'The API answered 5xx.',
    );
    const authorizerErrorRate = new MathExpression({
      expression: '100 * errors / MAX([invocations, 1])',
      usingMetrics: {
        errors: props.authorizer.metricErrors({ period: FIVE_MINUTES, statistic: 'Sum' }),
        invocations: props.authorizer.metricInvocations({ period: FIVE_MINUTES, statistic: 'Sum' }),
      },
      period: FIVE_MINUTES,
      label: 'Authorizer errors (%)',
    });
    alarm(
      'AuthorizerErrorRate',
      authorizerErrorRate,
      ALARM_THRESHOLDS.authorizerErrorPercent,
      'The authorizer is failing: callers get 500s before their request is read.',
    );

    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: `${Stack.of(this).stackName}-hookline`,
      defaultInterval: Duration.hours(3),
    });
    const [ingest] = props.queues;
    const graph = (title: string, left: IMetric[], right: IMetric[] = []) =>
      new GraphWidget({ title, left, right, width: 12 });
    this.dashboard.addWidgets(
      graph(
        'Throughput: events in, deliveries out',
        ingest ? [ingest.queue.metricNumberOfMessagesSent({ period: FIVE_MINUTES })] : [],
        ['delivered', 'failed', 'abandoned'].map((outcome) =>
          own(METRICS.deliveries, 'Sum', { Outcome: outcome }),
        ),
      ),
      graph(
        'Delivery latency and end-to-end lag (ms)',
        ['p50', 'p90', 'p99'].map((statistic) => own(METRICS.deliveryLatency, statistic)),
        ['p50', 'p99'].map((statistic) => own(METRICS.endToEndLag, statistic)),
      ),
      graph(
        'Failed attempts by class',
        [
          new MathExpression({
            expression: `SEARCH('{${METRICS.namespace},service,ErrorClass} MetricName="${METRICS.attemptErrors}"', 'Sum', 300)`,
            label: '',
            period: FIVE_MINUTES,
          }),
        ],
        [failureRate],
      ),
      graph(
        'Queue depth and oldest message (s)',
        props.queues.map(({ queue }) =>
          queue.metricApproximateNumberOfMessagesVisible({ period: FIVE_MINUTES }),
        ),
        props.queues.map(({ queue }) =>
          queue.metricApproximateAgeOfOldestMessage({ period: FIVE_MINUTES }),
        ),
      ),
      graph(
        'Function duration p50 / p99 (ms)',
        props.functions.flatMap(({ fn }) => [
          fn.metricDuration({ period: FIVE_MINUTES, statistic: 'p50' }),
          fn.metricDuration({ period: FIVE_MINUTES, statistic: 'p99' }),
        ]),
      ),
      graph(
        'Function concurrency',
        props.functions.map(
          ({ fn }) =>
            new Metric({
              namespace: 'AWS/Lambda',
              metricName: 'ConcurrentExecutions',
              statistic: 'Maximum',
              period: FIVE_MINUTES,
              dimensionsMap: { FunctionName: fn.functionName },
            }),
        ),
      ),
      graph('Fan-out, refusals, rate-limit waits, auto-disables', [
        own(METRICS.fanOutMatches, 'Average'),
        own(METRICS.eventsRejected, 'Sum'),
        own(METRICS.rateLimitWaits, 'Sum'),
        own(METRICS.webhooksAutoDisabled, 'Sum'),
      ]),
    );
  }
}
