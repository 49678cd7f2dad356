import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  ApiKeySourceType,
  EndpointType,
  IdentitySource,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  RequestAuthorizer,
  ResponseType,
  RestApi,
  type UsagePlan,
} from 'aws-cdk-lib/aws-apigateway';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import {
  API,
  GATEWAY_RESPONSES,
  gatewayResponseBody,
  gatewayResponseHeaders,
} from '../resources.ts';

export interface WebhooksApiProps {
  apiFunction: IFunction;
  authorizerFunction: IFunction;
  throttle: { rateLimit: number; burstLimit: number };
  authorizerCacheTtlSeconds: number;
  retryAfterSeconds: number;
  logRetention: RetentionDays;
  removalPolicy: RemovalPolicy;
}

/**
 * The REST API: /api/v1/webhooks and everything below it go to the API
 * function (which routes, and answers 404 and 405 itself). A REQUEST
 * authorizer over X-API-Key, cached per key, names the tenant; a usage plan
 * throttles each key; API Gateway's own errors speak the contract's envelope.
 */
export class WebhooksApi extends Construct {
  readonly api: RestApi;
  readonly usagePlan: UsagePlan;

  constructor(scope: Construct, id: string, props: WebhooksApiProps) {
    super(scope, id);

    const accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    this.api = new RestApi(this, 'Api', {
      restApiName: `${Stack.of(this).stackName}-webhooks`,
      description: 'Hookline webhook management API',
      endpointConfiguration: { types: [EndpointType.REGIONAL] },
      // The usage plan identifies a caller by what the authorizer returns,
      // never by a header a client could set.
      apiKeySourceType: ApiKeySourceType.AUTHORIZER,
      cloudWatchRole: true,
      deployOptions: {
        stageName: API.stageName,
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        accessLogFormat: AccessLogFormat.jsonWithStandardFields(),
        loggingLevel: MethodLoggingLevel.ERROR,
        metricsEnabled: true,
        tracingEnabled: true,
      },
    });

    const authorizer = new RequestAuthorizer(this, 'KeyAuthorizer', {
      handler: props.authorizerFunction,
      identitySources: [IdentitySource.header('X-API-Key')],
      resultsCacheTtl: Duration.seconds(props.authorizerCacheTtlSeconds),
    });
    const integration = new LambdaIntegration(props.apiFunction, { proxy: true });
    const methodOptions = { authorizer, apiKeyRequired: true };

    let webhooks = this.api.root;
    for (const segment of API.basePath) webhooks = webhooks.addResource(segment);
    webhooks.addMethod('ANY', integration, methodOptions);
    webhooks.addProxy({
      anyMethod: true,
      defaultIntegration: integration,
      defaultMethodOptions: methodOptions,
    });

    for (const response of GATEWAY_RESPONSES) {
      const isDefault = response.type.startsWith('DEFAULT_');
      this.api.addGatewayResponse(`Gateway${response.type}`, {
        type: ResponseType.of(response.type),
        ...(isDefault ? {} : { statusCode: String(response.statusCode) }),
        templates: { 'application/json': gatewayResponseBody(response) },
        responseHeaders: Object.fromEntries(
          Object.entries({
            'Content-Type': 'application/json',
            ...gatewayResponseHeaders(response, props.retryAfterSeconds),
          }).map(([name, value]) => [name, `'${value}'`]),
        ),
      });
    }

    this.usagePlan = this.api.addUsagePlan('PerKeyThrottle', {
      name: `${Stack.of(this).stackName}-per-key`,
      description: 'Throttles each API key; the keys CLI adds every key it creates.',
      throttle: props.throttle,
      apiStages: [{ api: this.api, stage: this.api.deploymentStage }],
    });
  }
}
