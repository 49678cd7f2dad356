import { Duration, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  ApiKeySourceType,
  AuthorizationType,
  EndpointType,
  IdentitySource,
  LambdaIntegration,
  LogGroupLogDestination,
  type Method,
  MethodLoggingLevel,
  type MethodOptions,
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
  type ApiResourceDefinition,
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

/** A method open without a key is one the resources list made public, for its stated reason. */
const acknowledgePublic = (method: Method): void => {
  for (const id of ['AwsSolutions::AwsSolutions-APIG4', 'AwsSolutions::AwsSolutions-COG4']) {
    Validations.of(method).acknowledge({
      id,
      reason:
        'The OpenAPI description of the API is public by design: clients and tools fetch it before they hold a key. It is read-only, the same for every caller, carries no tenant data, and is throttled per method (API.publicThrottle).',
    });
  }
};

/**
 * The REST API: the resources of API.resources (lib/resources.ts) go to the
 * API function, which routes and answers 404 and 405 itself. A REQUEST
 * authorizer over X-API-Key, cached per key, names the tenant; a usage plan
 * throttles each key; public methods (the OpenAPI document) need no key and
 * are throttled per method; API Gateway's own errors speak the contract's
 * envelope.
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
        // Public methods are in no usage plan: each is throttled on its own.
        methodOptions: Object.fromEntries(
          API.resources
            .filter((definition) => definition.access === 'public')
            .flatMap((definition) =>
              definition.methods.map((method) => [
                `/${[...API.rootPath, ...definition.path].join('/')}/${method}`,
                {
                  throttlingRateLimit: API.publicThrottle.rateLimit,
                  throttlingBurstLimit: API.publicThrottle.burstLimit,
                },
              ]),
            ),
        ),
      },
    });

    const authorizer = new RequestAuthorizer(this, 'KeyAuthorizer', {
      handler: props.authorizerFunction,
      identitySources: [IdentitySource.header('X-API-Key')],
      resultsCacheTtl: Duration.seconds(props.authorizerCacheTtlSeconds),
    });
    const integration = new LambdaIntegration(props.apiFunction, { proxy: true });
    const access: Record<ApiResourceDefinition['access'], MethodOptions> = {
      key: { authorizer, apiKeyRequired: true },
      public: { authorizationType: AuthorizationType.NONE, apiKeyRequired: false },
    };

    let root = this.api.root;
    for (const segment of API.rootPath) root = root.addResource(segment);
    for (const definition of API.resources) {
      let resource = root;
      for (const segment of definition.path) {
        resource = resource.getResource(segment) ?? resource.addResource(segment);
      }
      const targets = definition.subtree
        ? [resource, resource.addResource('{proxy+}')]
        : [resource];
      for (const target of targets) {
        for (const method of definition.methods) {
          const created = target.addMethod(method, integration, access[definition.access]);
          if (definition.access === 'public') acknowledgePublic(created);
        }
      }
    }

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
