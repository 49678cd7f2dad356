import { errorSummary } from '../errors.ts';
import type { WebhookRecord } from '../webhooks/schema.ts';
import {
  afterProbe,
  type CircuitUpdate,
  type CountedAttempt,
  circuitAdmission,
  circuitAfterBatch,
  type IsolationSettings,
  type Lane,
  laneAfterAnswer,
  laneOf,
  patienceMs,
  slowSendMark,
  withProbeClaim,
  withUpdate,
} from './circuit.ts';
import type { Effect } from './decisions.ts';
import type { JobDecision, Log } from './executor.ts';
import type { DeliveryJob } from './jobs.ts';
import type { SendResult } from './model.ts';
import type { CircuitStore, HoldRecorder } from './ports.ts';

/**
 * One batch's side of the circuit breakers and lanes (circuit.ts), for the
 * worker: which due jobs go, probe, wait (held: put back, no attempt spent,
 * the history told why) or move to the overflow lane; the lane change an
 * attempt calls for, written as soon as it is seen, so other workers route
 * by it at once; and at the batch's end each closed circuit's count and the
 * lane of every job put back. Per webhook and batch: at most one write of
 * its circuit (its count or opening; around a probe, its claim and, if it
 * is answered, its close) and at most one of its lane, when it changes.
 */

export interface IsolationPorts {
  circuits: CircuitStore;
  holds: HoldRecorder;
}

interface Candidate {
  messageId: string;
  job: DeliveryJob;
  webhook: WebhookRecord;
}

/** A job that may go; a probe's answer decides its circuit at once. */
export type Admitted<C extends Candidate> = C & { probe: boolean };

/** A job that does not go in this batch: put back (held, or to the overflow lane), or redelivered. */
export type SetAside =
  | JobDecision
  | { messageId: string; redeliver: string; level: 'info' | 'error' };

export interface IsolationContext {
  now: () => Date;
  random: () => number;
  log: Log;
}

export class BatchIsolation {
  readonly #ports: IsolationPorts;
  readonly #settings: IsolationSettings;
  /** The lane this batch came from. */
  readonly #lane: Lane;
  readonly #context: IsolationContext;
  /** Each webhook's state as read, then as written in this batch. */
  readonly #state = new Map<string, WebhookRecord>();
  /** Webhooks whose circuit (count, opening, probe) this batch wrote: once per batch. */
  readonly #circuitWritten = new Set<string>();
  /** Webhooks whose lane this batch changed: once per batch. */
  readonly #laneWritten = new Set<string>();
  readonly #counted = new Map<string, CountedAttempt[]>();
  readonly #pending: Promise<unknown>[] = [];

  constructor(
    ports: IsolationPorts,
    settings: IsolationSettings,
    lane: Lane,
    context: IsolationContext,
  ) {
    this.#ports = ports;
    this.#settings = settings;
    this.#lane = settings.overflowLane ? lane : 'standard';
    this.#context = context;
  }

  /** Sorts the batch's due jobs of active webhooks by their circuits and lanes. */
  async admit<C extends Candidate>(
    candidates: readonly C[],
  ): Promise<{ go: Admitted<C>[]; setAside: SetAside[] }> {
    const now = this.#context.now();
    const byWebhook = new Map<string, C[]>();
    for (const candidate of candidates) {
      const id = candidate.webhook.webhook_id;
      if (!this.#state.has(id)) this.#state.set(id, candidate.webhook);
      byWebhook.set(id, [...(byWebhook.get(id) ?? []), candidate]);
    }
    const go: Admitted<C>[] = [];
    const setAside: SetAside[] = [];
    await Promise.all(
      [...byWebhook.values()].map(async (group) => {
        const sorted = await this.#admitWebhook(group, now);
        go.push(...sorted.go);
        setAside.push(...sorted.setAside);
      }),
    );
    return { go, setAside };
  }

  async #admitWebhook<C extends Candidate>(
    group: readonly C[],
    now: Date,
  ): Promise<{ go: Admitted<C>[]; setAside: SetAside[] }> {
    const first = group[0];
    if (!first) return { go: [], setAside: [] };
    const { webhook } = first;
    const all = (probe: boolean) => group.map((candidate) => ({ ...candidate, probe }));
    // A disabled webhook's jobs end without a send (decisions.ts, endDisabled).
    if (!webhook.is_active) return { go: all(false), setAside: [] };
    const nowMs = now.getTime();
    const admission = circuitAdmission(webhook, nowMs, this.#settings, this.#context.random);
    if (admission.kind === 'hold') {
      return {
        go: [],
        setAside: await this.#hold(group, admission.untilMs, admission.reason, now),
      };
    }
    // A probe may hang, and a slow receiver's sends take long: both belong in the overflow lane.
    const overflow = admission.kind === 'probe' || laneOf(webhook, this.#settings) === 'overflow';
    if (this.#lane === 'standard' && overflow) {
      return { go: [], setAside: group.map((candidate) => this.#forward(candidate, nowMs)) };
    }
    if (admission.kind === 'pass') return { go: all(false), setAside: [] };

    const id = webhook.webhook_id;
    this.#circuitWritten.add(id);
    let won: boolean;
    try {
      won = await this.#ports.circuits.claimProbe(webhook.tenant, id, admission.claim);
    } catch (error) {
      const why = `the probe could not be claimed: ${errorSummary(error).message}`;
      return {
        go: [],
        setAside: group.map(({ messageId }) => ({ messageId, redeliver: why, level: 'error' })),
      };
    }
    if (!won) {
      return {
        go: [],
        setAside: await this.#hold(group, admission.othersUntilMs, admission.reason, now),
      };
    }
    this.#state.set(id, withProbeClaim(webhook, admission.claim));
    this.#context.log('info', 'A probe goes to a receiver whose circuit is open', {
      webhook_id: id,
      delivery_id: first.job.delivery_id,
    });
    return {
      go: [{ ...first, probe: true }],
      setAside: await this.#hold(group.slice(1), admission.othersUntilMs, admission.reason, now),
    };
  }

  /**
   * Jobs put back until `untilMs`, their attempt unspent. The first time a
   * job is held its delivery's history says why (one write); the job then
   * carries `held_since`, so coming back to wait again writes nothing.
   */
  #hold(
    group: readonly Candidate[],
    untilMs: number,
    reason: string,
    now: Date,
  ): Promise<SetAside[]> {
    const since = now.toISOString();
    return Promise.all(
      group.map(async ({ messageId, job }): Promise<SetAside> => {
        if (!job.held_since) {
          try {
            await this.#ports.holds.hold(
              job,
              { reason, since, until: new Date(untilMs).toISOString() },
              now,
            );
          } catch (error) {
            const why = `its hold could not be recorded: ${errorSummary(error).message}`;
            return { messageId, redeliver: why, level: 'error' };
          }
        }
        const { not_before: _, rate_slot: __, ...rest } = job;
        const held: DeliveryJob = { ...rest, held_since: job.held_since ?? since };
        return { messageId, decision: { effects: [this.#enqueue(held, untilMs, 'overflow')] } };
      }),
    );
  }

  /** A job in the standard lane whose receiver belongs in the overflow lane: moved there, not sent. */
  #forward({ messageId, job }: Candidate, nowMs: number): SetAside {
    return { messageId, decision: { effects: [this.#enqueue(job, nowMs, 'overflow')] } };
  }

  #enqueue(job: DeliveryJob, dueAtMs: number, lane: Lane): Effect {
    return {
      type: 'enqueue',
      job,
      dueAtMs,
      lane: this.#settings.overflowLane ? lane : 'standard',
    };
  }

  /** Runs one send; a standard-lane receiver still unanswered after its patience moves to the overflow lane meanwhile. */
  async watch<T>(run: Admitted<Candidate>, send: () => Promise<T>): Promise<T> {
    const id = run.webhook.webhook_id;
    const current = this.#state.get(id) ?? run.webhook;
    if (run.probe || this.#laneWritten.has(id) || laneOf(current, this.#settings) !== 'standard') {
      return send();
    }
    const timer = setTimeout(
      () => {
        const mark = slowSendMark('standard', this.#context.now().getTime());
        if (mark && !this.#laneWritten.has(id)) this.#write(run.webhook, mark);
      },
      patienceMs(current, this.#settings),
    );
    try {
      return await send();
    } finally {
      clearTimeout(timer);
    }
  }

  /** An attempt's answer: a probe's decides its circuit at once; another's may change the lane, and counts at the end. */
  async answered(
    run: Admitted<Candidate>,
    result: SendResult,
    durationMs: number,
    finishedAtMs: number,
  ): Promise<void> {
    const id = run.webhook.webhook_id;
    if (run.probe) {
      const close = afterProbe(result, durationMs, finishedAtMs, this.#settings);
      if (close) {
        this.#context.log('info', 'A probe was answered: the circuit is closed', {
          webhook_id: id,
        });
        await this.#write(run.webhook, close);
      }
      return;
    }
    this.#counted.set(id, [...(this.#counted.get(id) ?? []), { result, finishedAtMs }]);
    const current = this.#state.get(id) ?? run.webhook;
    if (this.#laneWritten.has(id) || current.circuit_opened_at) return;
    const change = laneAfterAnswer(current, result, durationMs, finishedAtMs, this.#settings);
    if (change) await this.#write(run.webhook, change);
  }

  /**
   * The batch's end: each closed circuit's count (webhooks whose circuit a
   * probe moved in this batch left out), and the lane of every job put back
   * by the decisions. `written` settles once every write of the batch has.
   */
  finish(decisions: readonly JobDecision[]): {
    decisions: JobDecision[];
    written: Promise<void>;
  } {
    const nowMs = this.#context.now().getTime();
    for (const [id, attempts] of this.#counted) {
      const webhook = this.#state.get(id);
      if (!webhook || this.#circuitWritten.has(id)) continue;
      const update = circuitAfterBatch(webhook, attempts, nowMs, this.#settings);
      if (update) this.#write(webhook, update);
    }
    const laned = decisions.map(({ messageId, decision }) => ({
      messageId,
      decision: {
        ...decision,
        effects: decision.effects.map((effect) =>
          effect.type === 'enqueue' && !effect.lane
            ? { ...effect, lane: this.#laneOf(effect.job.webhook_id) }
            : effect,
        ),
      },
    }));
    return { decisions: laned, written: Promise.all(this.#pending).then(() => undefined) };
  }

  /** A job's lane now; a job whose webhook this batch never read stays in the lane it came from. */
  #laneOf(webhookId: string): Lane {
    const webhook = this.#state.get(webhookId);
    return webhook ? laneOf(webhook, this.#settings) : this.#lane;
  }

  /** One write of the webhook's state; what the batch does next goes by it at once. Failures are logged. */
  #write(webhook: WebhookRecord, update: CircuitUpdate): Promise<unknown> {
    const id = webhook.webhook_id;
    (update.kind === 'lane' ? this.#laneWritten : this.#circuitWritten).add(id);
    this.#state.set(id, withUpdate(this.#state.get(id) ?? webhook, update));
    const written = this.#ports.circuits
      .updateCircuit(webhook.tenant, id, update)
      .then((applied) => {
        if (update.kind === 'open' && applied) {
          this.#context.log('warn', 'A receiver’s circuit opened: its jobs wait', {
            webhook_id: id,
            failures: update.run.failures,
            timeouts: update.run.timeouts,
            last_failure: update.lastFailure,
            next_probe_at: update.retryAt,
          });
        }
      })
      .catch((error: unknown) => {
        this.#context.log('error', 'Could not write a receiver’s circuit or lane', {
          webhook_id: id,
          update: update.kind,
          error: errorSummary(error),
        });
      });
    this.#pending.push(written);
    return written;
  }
}
