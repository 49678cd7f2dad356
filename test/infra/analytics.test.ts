import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { cdkJsonContext, createApp } from '../../lib/app.ts';
import { HooklineStack } from '../../lib/hookline-stack.ts';
import { ANALYTICS_TABLE } from '../../lib/resources.ts';

/**
 * The analytics table as the design needs it: aggregates kept 13 months by
 * default (context `analyticsRetentionMonths`), expired by TTL, backed up
 * like the other tables; the delivery function adds to it, the API reads it.
 * Which calls each role may make is held to what they were seen to call by
 * test/grants.
 */

const templateOf = (context: Record<string, unknown> = {}) =>
  Template.fromStack(createApp({ context, bundle: false, nag: false }).stack);

const template = templateOf();

const analyticsTable = (from: Template) => {
  const [entry] = Object.entries(from.findResources('AWS::DynamoDB::GlobalTable')).filter(([id]) =>
    id.startsWith('AnalyticsTable'),
  );
  if (!entry) throw new Error('no analytics table');
  return { id: entry[0], properties: entry[1].Properties };
};

const environmentOf = (from: Template, prefix: string) => {
  const [fn] = Object.entries(from.findResources('AWS::Lambda::Function')).filter(([id]) =>
    id.includes(prefix),
  );
  return fn?.[1].Properties.Environment.Variables as Record<string, unknown>;
};

describe('the analytics table', () => {
  it('expires items by TTL on expires_at, with point-in-time recovery, on demand', () => {
    const { properties } = analyticsTable(template);
    expect(properties.TimeToLiveSpecification).toEqual({
      AttributeName: 'expires_at',
      Enabled: true,
    });
    expect(properties.KeySchema).toEqual([
      { AttributeName: 'PK', KeyType: 'HASH' },
      { AttributeName: 'SK', KeyType: 'RANGE' },
    ]);
    expect(properties.BillingMode).toBe('PAY_PER_REQUEST');
    expect(properties.Replicas[0].PointInTimeRecoverySpecification).toEqual({
      PointInTimeRecoveryEnabled: true,
    });
  });

  it('is named to the API and delivery functions with 13 months of retention by default', () => {
    const { id } = analyticsTable(template);
    for (const prefix of ['ApiFunction', 'DeliveryFunction']) {
      expect(environmentOf(template, prefix), prefix).toMatchObject({
        ANALYTICS_TABLE_NAME: { Ref: id },
        ANALYTICS_RETENTION_MONTHS: String(ANALYTICS_TABLE.retentionMonths.default),
      });
    }
    expect(environmentOf(template, 'FanOutFunction')).not.toHaveProperty('ANALYTICS_TABLE_NAME');
  });

  it('keeps aggregates as long as context analyticsRetentionMonths says, within 1 to 120', () => {
    expect(
      environmentOf(templateOf({ analyticsRetentionMonths: 25 }), 'DeliveryFunction'),
    ).toMatchObject({ ANALYTICS_RETENTION_MONTHS: '25' });
    expect(
      () =>
        new HooklineStack(new App({ context: cdkJsonContext() }), 'Bad', {
          analyticsRetentionMonths: 0,
        }),
    ).toThrow('analyticsRetentionMonths must be an integer from 1 to 120; got 0');
  });
});
