import type { DeliverySettings } from '../commons/delivery-settings.ts';
import type { AttemptDependencies } from '../domain/delivery/attempt.ts';
import { HttpSender } from './http-sender.ts';
import { OAuth2Tokens } from './oauth2.ts';

/**
 * What an attempt needs to go out: one HTTP sender (its keep-alive pools
 * live as long as the execution environment) and the OAuth2 token cache
 * that shares its SSRF guard.
 */
export const createSending = (settings: DeliverySettings): AttemptDependencies => {
  const sender = new HttpSender({
    allowPrivateTargets: settings.allowPrivateTargets,
    userAgent: settings.userAgent,
  });
  return { sender, tokens: new OAuth2Tokens(sender), userAgent: settings.userAgent };
};
