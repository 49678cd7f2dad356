import { createHash } from 'node:crypto';
import { LOCAL_METADATA_KEY } from '../lib/resources.ts';
import type { CfnResource, CfnTemplate, CfnValue } from './template.ts';

/**
 * The synthesized template read as the local runtime needs it: tables,
 * queues, functions with their roles' policies, event source mappings and the
 * API's settings. Every physical name and ARN the template would get from
 * CloudFormation is given here, once, and every intrinsic function the
 * template uses is resolved against them.
 */

export const LOCAL_ACCOUNT = '000000000000';

export interface PolicyDocument {
  Version?: string;
  Statement: Record<string, unknown>[];
}

export interface TableModel {
  logicalId: string;
  name: string;
  arn: string;
  properties: Record<string, CfnValue>;
  ttlAttribute: string | undefined;
}

export interface QueueModel {
  logicalId: string;
  name: string;
  arn: string;
  properties: Record<string, CfnValue>;
}

export interface RoleModel {
  logicalId: string;
  name: string;
  arn: string;
  /** The identity policies attached to the role, resolved. */
  policies: { name: string; document: PolicyDocument }[];
}

export interface FunctionModel {
  logicalId: string;
  name: string;
  arn: string;
  /** The handler file, relative to the project root. */
  entry: string;
  timeoutSeconds: number;
  memoryMb: number;
  role: RoleModel;
  /** The environment as the template sets it, references unresolved (queue URLs come later). */
  environment: Record<string, CfnValue>;
  /** The credentials the function's role hands it, as Lambda does: they name the caller to the gate. */
  accessKeyId: string;
  /** The role session the function's calls are made as. */
  principalArn: string;
}

export interface EventSourceMappingModel {
  logicalId: string;
  functionLogicalId: string;
  queueLogicalId: string;
  batchSize: number;
  maxBatchingWindowSeconds: number;
  maxConcurrency: number | undefined;
  reportBatchItemFailures: boolean;
  enabled: boolean;
}

/** A method of a resource, as the gateway must treat it. */
export interface ApiMethodModel {
  /** `ANY` or one method. */
  httpMethod: string;
  /**
   * `key`: the REQUEST authorizer runs and the usage plan throttles the key
   * it names (AuthorizationType CUSTOM, ApiKeyRequired). `public`: neither
   * (AuthorizationType NONE, no API key required).
   */
  access: 'key' | 'public';
  /** The stage's method throttling for it (MethodSettings), if any. */
  throttle: { rateLimit: number; burstLimit: number } | undefined;
}

export interface ApiResourceModel {
  /** The resource's whole path: `/api/v1/webhooks/{proxy+}`. */
  path: string;
  methods: ApiMethodModel[];
}

export interface ApiModel {
  /** Every resource with at least one method, as the template defines them. */
  resources: ApiResourceModel[];
  apiFunction: string;
  authorizerFunction: string;
  authorizerCacheTtlSeconds: number;
  throttle: { rateLimit: number; burstLimit: number };
  /** The Retry-After a throttled client is told, from the THROTTLED gateway response. */
  retryAfterSeconds: number | undefined;
  /** The Lambda proxy integration's timeout (API Gateway's default is 29 s). */
  integrationTimeoutMs: number;
}

export interface StackModel {
  stackName: string;
  region: string;
  account: string;
  tables: TableModel[];
  queues: QueueModel[];
  functions: FunctionModel[];
  eventSourceMappings: EventSourceMappingModel[];
  /** Queue ARN → its resource policy, resolved. */
  queuePolicies: Map<string, PolicyDocument>;
  api: ApiModel;
  /** Resolves a template value; queue references need the queues' URLs, once they exist. */
  resolve(value: CfnValue, queueUrls?: ReadonlyMap<string, string>): CfnValue;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const localName = (resource: CfnResource): string | undefined => {
  const metadata = resource.Metadata?.[LOCAL_METADATA_KEY];
  return isRecord(metadata) && typeof metadata.name === 'string' ? metadata.name : undefined;
};

const localEntry = (resource: CfnResource): string | undefined => {
  const metadata = resource.Metadata?.[LOCAL_METADATA_KEY];
  return isRecord(metadata) && typeof metadata.entry === 'string' ? metadata.entry : undefined;
};

/** The logical ids a value references through Ref or Fn::GetAtt. */
const referencedIds = (value: CfnValue): string[] => {
  if (Array.isArray(value)) return value.flatMap(referencedIds);
  if (!isRecord(value)) return [];
  if (typeof value.Ref === 'string') return [value.Ref];
  const getAtt = value['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return [getAtt[0]];
  return Object.values(value).flatMap(referencedIds);
};

export const readStackModel = (
  stackName: string,
  template: CfnTemplate,
  options: { region: string; account?: string },
): StackModel => {
  const { region } = options;
  const account = options.account ?? LOCAL_ACCOUNT;
  const resources = Object.entries(template.Resources);
  const ofType = (type: string) => resources.filter(([, resource]) => resource.Type === type);
  const nameOf = (id: string, resource: CfnResource) => localName(resource) ?? `${stackName}-${id}`;

  const refs = new Map<string, string>();
  const attributes = new Map<string, Record<string, string>>();
  const queueNames = new Map<string, string>();
  for (const [id, resource] of resources) {
    const name = nameOf(id, resource);
    switch (resource.Type) {
      case 'AWS::DynamoDB::GlobalTable':
      case 'AWS::DynamoDB::Table':
        refs.set(id, name);
        attributes.set(id, { Arn: `arn:aws:dynamodb:${region}:${account}:table/${name}` });
        break;
      case 'AWS::SQS::Queue':
        queueNames.set(id, name);
        attributes.set(id, { Arn: `arn:aws:sqs:${region}:${account}:${name}`, QueueName: name });
        break;
      case 'AWS::Logs::LogGroup':
        refs.set(id, name);
        attributes.set(id, { Arn: `arn:aws:logs:${region}:${account}:log-group:${name}:*` });
        break;
      case 'AWS::IAM::Role':
        refs.set(id, name);
        attributes.set(id, { Arn: `arn:aws:iam::${account}:role/${name}` });
        break;
      case 'AWS::Lambda::Function':
        refs.set(id, name);
        attributes.set(id, { Arn: `arn:aws:lambda:${region}:${account}:function:${name}` });
        break;
      default:
        refs.set(id, id);
    }
  }
  const pseudo: Record<string, string> = {
    'AWS::Partition': 'aws',
    'AWS::Region': region,
    'AWS::AccountId': account,
    'AWS::StackName': stackName,
    'AWS::URLSuffix': 'amazonaws.com',
  };

  const resolve = (value: CfnValue, queueUrls?: ReadonlyMap<string, string>): CfnValue => {
    const ref = (id: string): string => {
      const found = pseudo[id] ?? refs.get(id);
      if (found !== undefined) return found;
      const url = queueUrls?.get(id);
      if (url !== undefined) return url;
      if (queueNames.has(id)) throw new Error(`The URL of queue ${id} is not known yet`);
      throw new Error(`Ref to ${id}, which the template does not define`);
    };
    const getAtt = (id: string, attribute: string): string => {
      const found = attributes.get(id)?.[attribute];
      if (found === undefined)
        throw new Error(`Fn::GetAtt ${id}.${attribute} is not known locally`);
      return found;
    };
    const walk = (node: CfnValue): CfnValue => {
      if (Array.isArray(node)) return node.map(walk);
      if (!isRecord(node)) return node;
      const keys = Object.keys(node);
      const [key] = keys;
      if (keys.length === 1 && key !== undefined && (key === 'Ref' || key.startsWith('Fn::'))) {
        const argument = node[key];
        switch (key) {
          case 'Ref':
            return ref(String(argument));
          case 'Fn::GetAtt': {
            const [id, attribute] = Array.isArray(argument)
              ? argument.map(String)
              : String(argument).split('.');
            return getAtt(String(id), String(attribute));
          }
          case 'Fn::Join': {
            const [separator, parts] = argument as [string, CfnValue[]];
            return (walk(parts) as CfnValue[]).map(String).join(separator);
          }
          case 'Fn::Select': {
            const [index, list] = argument as [CfnValue, CfnValue];
            return (walk(list) as CfnValue[])[Number(walk(index))];
          }
          case 'Fn::Split': {
            const [separator, source] = argument as [string, CfnValue];
            return String(walk(source)).split(separator);
          }
          case 'Fn::Sub': {
            const [text, variables] = Array.isArray(argument)
              ? (argument as [string, Record<string, CfnValue>])
              : [String(argument), {}];
            return text.replace(/\$\{([^}!]+)\}/g, (_match, name: string) => {
              if (name in variables) return String(walk(variables[name]));
              const [id, attribute] = name.split('.');
              return attribute ? getAtt(String(id), attribute) : ref(String(id));
            });
          }
          default:
            throw new Error(`${key} is not supported by the local runtime`);
        }
      }
      return Object.fromEntries(Object.entries(node).map(([name, child]) => [name, walk(child)]));
    };
    return walk(value);
  };

  const tables: TableModel[] = [
    ...ofType('AWS::DynamoDB::GlobalTable'),
    ...ofType('AWS::DynamoDB::Table'),
  ].map(([id, resource]) => {
    const properties = resource.Properties ?? {};
    const ttl = properties.TimeToLiveSpecification;
    return {
      logicalId: id,
      name: String(refs.get(id)),
      arn: getArn(attributes, id),
      properties,
      ttlAttribute:
        isRecord(ttl) && ttl.Enabled !== false && typeof ttl.AttributeName === 'string'
          ? ttl.AttributeName
          : undefined,
    };
  });

  const queues: QueueModel[] = ofType('AWS::SQS::Queue').map(([id, resource]) => ({
    logicalId: id,
    name: String(queueNames.get(id)),
    arn: getArn(attributes, id),
    properties: resource.Properties ?? {},
  }));

  const policiesOf = (roleId: string) =>
    ofType('AWS::IAM::Policy')
      .filter(([, policy]) => referencedIds(policy.Properties?.Roles).includes(roleId))
      .map(([id, policy]) => ({
        name: id,
        document: resolve(policy.Properties?.PolicyDocument) as PolicyDocument,
      }));

  const roles = new Map<string, RoleModel>(
    ofType('AWS::IAM::Role').map(([id, resource]) => {
      const inline = (resource.Properties?.Policies ?? []) as {
        PolicyName: string;
        PolicyDocument: CfnValue;
      }[];
      return [
        id,
        {
          logicalId: id,
          name: String(refs.get(id)),
          arn: getArn(attributes, id),
          policies: [
            ...inline.map((policy) => ({
              name: policy.PolicyName,
              document: resolve(policy.PolicyDocument) as PolicyDocument,
            })),
            ...policiesOf(id),
          ],
        },
      ];
    }),
  );

  const functions: FunctionModel[] = ofType('AWS::Lambda::Function').map(([id, resource]) => {
    const properties = resource.Properties ?? {};
    const entry = localEntry(resource);
    if (!entry) throw new Error(`Function ${id} has no ${LOCAL_METADATA_KEY} entry to run locally`);
    const [roleId] = referencedIds(properties.Role);
    const role = roleId ? roles.get(roleId) : undefined;
    if (!role) throw new Error(`Function ${id} has no role defined in the template`);
    if (template.Resources[role.logicalId]?.Properties?.ManagedPolicyArns !== undefined) {
      throw new Error(`Role ${role.logicalId} has managed policies, which cannot be read locally`);
    }
    const name = String(refs.get(id));
    const environment = isRecord(properties.Environment) ? properties.Environment.Variables : {};
    return {
      logicalId: id,
      name,
      arn: getArn(attributes, id),
      entry,
      timeoutSeconds: Number(properties.Timeout ?? 3),
      memoryMb: Number(properties.MemorySize ?? 128),
      role,
      environment: isRecord(environment) ? environment : {},
      // Shaped like a session's key id; the gate looks the caller up by it.
      accessKeyId: `ASIA${createHash('sha256').update(role.arn).digest('hex').slice(0, 16).toUpperCase()}`,
      principalArn: `arn:aws:sts::${account}:assumed-role/${role.name}/${name}`,
    };
  });

  const eventSourceMappings: EventSourceMappingModel[] = ofType(
    'AWS::Lambda::EventSourceMapping',
  ).map(([id, resource]) => {
    const properties = resource.Properties ?? {};
    const [functionLogicalId] = referencedIds(properties.FunctionName);
    const [queueLogicalId] = referencedIds(properties.EventSourceArn);
    if (!functionLogicalId || !queueLogicalId || !queueNames.has(queueLogicalId)) {
      throw new Error(`Event source mapping ${id} is not an SQS queue feeding a function here`);
    }
    const scaling = properties.ScalingConfig;
    return {
      logicalId: id,
      functionLogicalId,
      queueLogicalId,
      batchSize: Number(properties.BatchSize ?? 10),
      maxBatchingWindowSeconds: Number(properties.MaximumBatchingWindowInSeconds ?? 0),
      maxConcurrency:
        isRecord(scaling) && scaling.MaximumConcurrency !== undefined
          ? Number(scaling.MaximumConcurrency)
          : undefined,
      reportBatchItemFailures: ((properties.FunctionResponseTypes ?? []) as CfnValue[]).includes(
        'ReportBatchItemFailures',
      ),
      enabled: properties.Enabled !== false,
    };
  });

  const queuePolicies = new Map<string, PolicyDocument>();
  for (const [, resource] of ofType('AWS::SQS::QueuePolicy')) {
    for (const queueId of referencedIds(resource.Properties?.Queues)) {
      queuePolicies.set(
        getArn(attributes, queueId),
        resolve(resource.Properties?.PolicyDocument) as PolicyDocument,
      );
    }
  }

  return {
    stackName,
    region,
    account,
    tables,
    queues,
    functions,
    eventSourceMappings,
    queuePolicies,
    api: readApi(ofType, functions),
    resolve,
  };
};

const getArn = (attributes: Map<string, Record<string, string>>, id: string): string => {
  const arn = attributes.get(id)?.Arn;
  if (!arn) throw new Error(`${id} has no ARN`);
  return arn;
};

const readApi = (
  ofType: (type: string) => [string, CfnResource][],
  functions: readonly FunctionModel[],
): ApiModel => {
  const functionIn = (value: CfnValue, what: string) => {
    const ids = new Set(referencedIds(value));
    const found = functions.filter((fn) => ids.has(fn.logicalId));
    if (found.length !== 1 || !found[0]) throw new Error(`Cannot tell which function ${what} is`);
    return found[0].logicalId;
  };
  const methods = ofType('AWS::ApiGateway::Method').map(([, method]) => method.Properties ?? {});
  const integrations = methods.map((method) => method.Integration as Record<string, CfnValue>);
  const apiFunctions = new Set(
    integrations.map((integration) => functionIn(integration?.Uri, 'an API integration')),
  );
  const [apiFunction] = apiFunctions;
  if (!apiFunction || apiFunctions.size !== 1) {
    throw new Error('The local gateway runs one API function behind every method');
  }
  const timeouts = new Set(
    integrations.map((integration) => Number(integration?.TimeoutInMillis ?? 29_000)),
  );
  const [authorizer, ...others] = ofType('AWS::ApiGateway::Authorizer');
  if (!authorizer || others.length > 0) throw new Error('The local gateway runs one authorizer');
  const resources = readResources(ofType, authorizer[0]);
  const [[, usagePlan] = [] as unknown as [string, CfnResource]] = ofType(
    'AWS::ApiGateway::UsagePlan',
  );
  const throttle = (usagePlan?.Properties?.Throttle ?? {}) as Record<string, CfnValue>;
  const throttled = ofType('AWS::ApiGateway::GatewayResponse').find(
    ([, response]) => response.Properties?.ResponseType === 'THROTTLED',
  );
  const retryAfter = (
    throttled?.[1].Properties?.ResponseParameters as Record<string, string> | undefined
  )?.['gatewayresponse.header.Retry-After'];
  return {
    resources,
    apiFunction,
    authorizerFunction: functionIn(authorizer[1].Properties?.AuthorizerUri, 'the authorizer'),
    authorizerCacheTtlSeconds: Number(
      authorizer[1].Properties?.AuthorizerResultTtlInSeconds ?? 300,
    ),
    throttle: {
      rateLimit: Number(throttle.RateLimit ?? Number.POSITIVE_INFINITY),
      burstLimit: Number(throttle.BurstLimit ?? Number.POSITIVE_INFINITY),
    },
    // A header value in a gateway response is a quoted literal: '7'.
    retryAfterSeconds: retryAfter === undefined ? undefined : Number(retryAfter.replace(/'/g, '')),
    integrationTimeoutMs: Math.max(...timeouts),
  };
};

/** A MethodSettings path (`/~1api~1v1~1openapi.json`: a slash, then the path with `~1` for `/`). */
const settingsPath = (resourcePath: string) => resourcePath.slice(1).replaceAll('~1', '/');

/**
 * The API's resources, their paths built from each one's PathPart up its
 * parents, and their methods' access and throttling. What the local gateway
 * cannot do as API Gateway would is refused here rather than served
 * differently.
 */
const readResources = (
  ofType: (type: string) => [string, CfnResource][],
  authorizerId: string,
): ApiResourceModel[] => {
  const parts = new Map(
    ofType('AWS::ApiGateway::Resource').map(([id, resource]) => [
      id,
      {
        part: String(resource.Properties?.PathPart),
        parent: referencedIds(resource.Properties?.ParentId)[0],
      },
    ]),
  );
  const pathOf = (id: string | undefined): string => {
    const resource = id === undefined ? undefined : parts.get(id);
    // The root resource is the RestApi's RootResourceId, not a resource of its own.
    return resource ? `${pathOf(resource.parent)}/${resource.part}` : '';
  };
  const settings = ofType('AWS::ApiGateway::Stage').flatMap(
    ([, stage]) => (stage.Properties?.MethodSettings ?? []) as Record<string, CfnValue>[],
  );
  const throttleOf = (path: string, httpMethod: string) => {
    const setting = settings.find(
      (each) =>
        settingsPath(String(each.ResourcePath)) === path &&
        String(each.HttpMethod) === httpMethod &&
        each.ThrottlingRateLimit !== undefined,
    );
    return setting
      ? {
          rateLimit: Number(setting.ThrottlingRateLimit),
          burstLimit: Number(setting.ThrottlingBurstLimit ?? 0),
        }
      : undefined;
  };
  const byPath = new Map<string, ApiResourceModel>();
  for (const [id, method] of ofType('AWS::ApiGateway::Method')) {
    const properties = method.Properties ?? {};
    const path = pathOf(referencedIds(properties.ResourceId)[0]) || '/';
    const httpMethod = String(properties.HttpMethod);
    const authorization = String(properties.AuthorizationType ?? 'NONE');
    const keyed = properties.ApiKeyRequired === true;
    let access: ApiMethodModel['access'];
    if (authorization === 'CUSTOM' && keyed) {
      if (!referencedIds(properties.AuthorizerId).includes(authorizerId)) {
        throw new Error(`Method ${id} names an authorizer the local gateway does not run`);
      }
      access = 'key';
    } else if (authorization === 'NONE' && !keyed) {
      access = 'public';
    } else {
      throw new Error(
        `Method ${id} (${authorization}, ApiKeyRequired ${keyed}) is not served by the local gateway`,
      );
    }
    const resource = byPath.get(path) ?? { path, methods: [] };
    resource.methods.push({ httpMethod, access, throttle: throttleOf(path, httpMethod) });
    byPath.set(path, resource);
  }
  return [...byPath.values()];
};
