import { randomBytes } from 'node:crypto';

/** A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes. */
export const generateSigningSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;

const MASK = '****';
/** Shorter secrets show nothing of themselves: four characters of eight is half the secret. */
const MIN_LENGTH_TO_REVEAL = 12;

/** The masked form of a secret: its last four characters at most. */
export const maskSecret = (secret: string): string =>
  secret.length >= MIN_LENGTH_TO_REVEAL ? `${MASK}${secret.slice(-4)}` : `${MASK}${MASK}`;

/**
 * A client that fetched a webhook and sends it back unchanged sends masked
 * secrets; those mean "keep the stored secret", not "set it to ****1234".
 */
export const keepIfMasked = (incoming: string, stored: string | undefined): string =>
  stored !== undefined && incoming === maskSecret(stored) ? stored : incoming;
