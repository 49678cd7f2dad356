import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { createDocumentClient } from '../commons/clients.ts';
import { requireEnv } from '../commons/config.ts';
import { logger } from '../commons/logger.ts';
import { authenticate, usageKeyOf } from '../domain/keys/api-keys.ts';
import { lowerCaseHeaders } from '../http/request.ts';
import { ApiKeyRepository } from '../repositories/api-keys.ts';

/**
 * REQUEST authorizer: X-API-Key → tenant and permissions. API Gateway caches
 * the answer per key (see lib/), so this runs once per key per TTL, not per
 * request. The policy allows the whole API, which is what makes the cached
 * answer valid for every route; what a key may do is checked per route by the
 * API function against the permissions passed in the context.
 */

const keys = new ApiKeyRepository(createDocumentClient(), requireEnv('TABLE_NAME'));

/**
 * `arn:aws:execute-api:region:account:api/stage/METHOD/path` → `arn:...:api/stage/*`:
 * every method of every resource of the stage (webhooks, events), so the
 * answer cached for a key holds whichever route the key calls next.
 */
const wholeApi = (methodArn: string): string => {
  const [api, stage] = methodArn.split('/');
  return `${api}/${stage}/*`;
};

export const handler = async (
  event: APIGatewayRequestAuthorizerEvent,
): Promise<APIGatewayAuthorizerResult> => {
  const principal = await authenticate(lowerCaseHeaders(event.headers)['x-api-key'], keys);
  if (!principal) {
    logger.info('Rejected API key', { path: event.path });
    // The exact message API Gateway turns into a 401.
    throw new Error('Unauthorized');
  }
  return {
    principalId: principal.keyId,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [
        { Action: 'execute-api:Invoke', Effect: 'Allow', Resource: wholeApi(event.methodArn) },
      ],
    },
    context: {
      tenant: principal.tenant,
      key_id: principal.keyId,
      permissions: principal.permissions.join(','),
    },
    // Identifies the key to the usage plan that throttles it.
    usageIdentifierKey: usageKeyOf(principal.keyId),
  };
};
