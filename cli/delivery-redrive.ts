import { type DeliveryJob, jobOf, parseDeliveryJob } from '../functions/domain/delivery/jobs.ts';
import type { JobQueue } from '../functions/domain/delivery/ports.ts';
import {
  type DeliveryRecord,
  MAX_ATTEMPTS_PER_DELIVERY,
} from '../functions/domain/delivery/record.ts';
import { restartDelivery } from '../functions/domain/delivery/service.ts';
import { ConflictError } from '../functions/domain/errors.ts';
import type { WebhookRecord } from '../functions/domain/webhooks/schema.ts';
import type { DeliveryRepository } from '../functions/repositories/deliveries.ts';

/** What to do with one delivery dead letter, and why. */
export type DeliveryRedrive =
  | { action: 'restart'; record: DeliveryRecord }
  | { action: 'resend'; job: DeliveryJob; why: string }
  | { action: 'drop'; why: string }
  | { action: 'keep'; why: string };

/**
 * The delivery dead-letter queue holds two kinds of message, both delivery
 * jobs. Hookline copies a delivery there when its retries are used up (with
 * a `reason`); the record then says `abandoned`, and it is restarted as the
 * API's manual retry does: a new chain with a fresh `max_attempts`, attempt
 * numbers going on, the same delivery id. SQS moves a job there itself when
 * the delivery function failed on it again and again (no `reason`); its
 * attempt may never have run (the record has fewer attempts, or there is no
 * record of a first attempt), and then the job is sent again as it was: the
 * delivery worker claims each attempt, so a job it already handled is
 * harmless. An attempt left in flight is sent again too, for the worker to
 * take over once it is stale. A job whose attempt was recorded while its
 * delivery still waits to retry may have died before queueing the next
 * attempt (only that job's own message queues it again): the next job is
 * sent; should it be queued already, the copy's claim is refused.
 *
 * Nothing is sent when the delivery moved on (retried by hand, delivered, or
 * a later attempt is running), expired or lost its webhook: the dead letter
 * is deleted. Kept on the queue, to be looked at: messages that are no
 * delivery job (the worker refused them), and deliveries that cannot be
 * restarted now (disabled webhook, attempts used up).
 */
export const planDeliveryRedrive = (
  job: DeliveryJob,
  record: DeliveryRecord | undefined,
  webhook: Pick<WebhookRecord, 'is_active'> | undefined,
): DeliveryRedrive => {
  // The worker drops the jobs of a deleted webhook; its deliveries went with it.
  if (!webhook) return { action: 'drop', why: 'its webhook no longer exists' };
  if (!record) {
    return job.attempt === 1
      ? { action: 'resend', job, why: 'its first attempt never ran' }
      : {
          action: 'drop',
          why: 'the delivery no longer exists (its history expired)',
        };
  }
  if (record.in_flight) {
    return record.in_flight.attempt === job.attempt
      ? {
          action: 'resend',
          job,
          why: `attempt ${job.attempt} was cut off; the worker takes it over`,
        }
      : { action: 'drop', why: `it is being delivered (attempt ${record.in_flight.attempt})` };
  }
  if (record.attempt_count < job.attempt) {
    return { action: 'resend', job, why: `attempt ${job.attempt} never ran` };
  }
  if (record.status === 'retrying' && record.attempt_count === job.attempt) {
    // Its job failed until SQS set it aside, perhaps before queueing the next one.
    const next = record.attempt_count + 1;
    return {
      action: 'resend',
      job: jobOf(record, next),
      why: `attempt ${next} may never have been queued; a second copy would send nothing`,
    };
  }
  if (record.status !== 'abandoned') {
    return { action: 'drop', why: `it is no longer abandoned but ${record.status}` };
  }
  if (!webhook.is_active) {
    return { action: 'keep', why: 'its webhook is disabled; enable it, then redrive' };
  }
  if (record.attempt_count >= MAX_ATTEMPTS_PER_DELIVERY) {
    return {
      action: 'keep',
      why: `it has had ${record.attempt_count} attempts, the most a delivery may have`,
    };
  }
  return { action: 'restart', record };
};

export interface DeliveryRedriveTarget {
  deliveries: Pick<DeliveryRepository, 'get' | 'restartChain' | 'revertChain'>;
  webhooks: {
    get(tenant: string, webhookId: string): Promise<Pick<WebhookRecord, 'is_active'> | undefined>;
  };
  jobs: Pick<JobQueue, 'send'>;
  now?: () => Date;
}

/** What became of a dead letter: `kept` ones stay on the queue, the others are deleted. */
export interface LetterOutcome {
  outcome: 'redriven' | 'deleted' | 'kept';
  message: string;
}

/** Carries out the plan for one delivery dead letter's body. */
export const redriveDelivery = async (
  target: DeliveryRedriveTarget,
  body: string,
): Promise<LetterOutcome> => {
  const job = parseDeliveryJob(body);
  if (!job) {
    return {
      outcome: 'kept',
      message: 'not a delivery job, left on the queue: see list, and delete it by hand',
    };
  }
  const [record, webhook] = await Promise.all([
    target.deliveries.get(job.webhook_id, job.delivery_id),
    target.webhooks.get(job.tenant, job.webhook_id),
  ]);
  const plan = planDeliveryRedrive(job, record, webhook);
  const delivery = `delivery ${job.delivery_id}`;
  switch (plan.action) {
    case 'keep':
      return { outcome: 'kept', message: `${delivery} left on the queue: ${plan.why}` };
    case 'drop':
      return {
        outcome: 'deleted',
        message: `${delivery} not redriven, dead letter deleted: ${plan.why}`,
      };
    case 'resend':
      await target.jobs.send([{ job: plan.job, delaySeconds: 0 }]);
      return {
        outcome: 'redriven',
        message: `${delivery} attempt ${plan.job.attempt} sent again: ${plan.why}`,
      };
    case 'restart':
      return restart(target, plan.record);
  }
};

/** A new attempt chain, as the API's manual retry (DeliveryService.retry) starts one. */
const restart = async (
  target: DeliveryRedriveTarget,
  record: DeliveryRecord,
): Promise<LetterOutcome> => {
  const delivery = `delivery ${record.delivery_id}`;
  try {
    await restartDelivery(target.deliveries, target.jobs, record, target.now?.() ?? new Date());
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    return { outcome: 'kept', message: `${delivery} changed meanwhile; run redrive again` };
  }
  return {
    outcome: 'redriven',
    message: `${delivery} restarted as attempt ${record.attempt_count + 1}, a new attempt chain`,
  };
};
