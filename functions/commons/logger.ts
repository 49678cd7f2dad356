import { Logger } from '@aws-lambda-powertools/logger';

/** Structured JSON logs; level from POWERTOOLS_LOG_LEVEL, service name from POWERTOOLS_SERVICE_NAME. */
export const logger = new Logger({ serviceName: 'hookline' });
