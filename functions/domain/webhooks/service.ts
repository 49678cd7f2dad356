import { randomUUID } from 'node:crypto';
import { ConflictError, NotFoundError } from '../errors.ts';
import { type ListQuery, listWebhooks, type Page } from './list.ts';
import type { WebhookConfig, WebhookPatch, WebhookRecord } from './schema.ts';
import { applyPatch, newWebhook, rotateSigningSecret } from './webhook.ts';

/** What the webhook service needs from storage; repositories/webhooks.ts implements it. */
export interface WebhookStore {
  get(tenant: string, webhookId: string): Promise<WebhookRecord | undefined>;
  listByTenant(tenant: string): Promise<WebhookRecord[]>;
  /** Takes one of the tenant's `max` webhook slots; false when none is free. */
  reserveSlot(tenant: string, max: number): Promise<boolean>;
  releaseSlot(tenant: string): Promise<void>;
  /** Corrects the slot counter from a count of the webhooks; answers that count. */
  reconcileSlots(tenant: string): Promise<number>;
  /** Writes a new webhook; never overwrites one with the same id. */
  create(webhook: WebhookRecord): Promise<void>;
  /**
   * Writes the changed attributes if the stored version is still
   * `expectedVersion`; returns false (and writes nothing) otherwise, including
   * when the webhook has been deleted meanwhile.
   */
  update(
    tenant: string,
    webhookId: string,
    changes: Partial<WebhookRecord>,
    expectedVersion: number,
  ): Promise<boolean>;
  /** Returns false if there was nothing to delete. */
  delete(tenant: string, webhookId: string): Promise<boolean>;
}

export interface WebhookServiceOptions {
  maxWebhooksPerTenant: number;
  now?: () => Date;
  newId?: () => string;
}

/** The id a draft webhook (a preview of one not yet created) carries. */
export const DRAFT_WEBHOOK_ID = '00000000-0000-0000-0000-000000000000';

/** Attempts at an update that keeps losing races before answering 409. */
const UPDATE_ATTEMPTS = 3;

export class WebhookService {
  readonly #store: WebhookStore;
  readonly #maxPerTenant: number;
  readonly #now: () => Date;
  readonly #newId: () => string;

  constructor(store: WebhookStore, options: WebhookServiceOptions) {
    this.#store = store;
    this.#maxPerTenant = options.maxWebhooksPerTenant;
    this.#now = options.now ?? (() => new Date());
    this.#newId = options.newId ?? randomUUID;
  }

  /**
   * The per-tenant limit bounds the cost of listing and matching one tenant's
   * partition. A slot is reserved with a conditional update before the write
   * and given back if the write fails, so concurrent creates cannot pass it.
   */
  async create(tenant: string, config: WebhookConfig): Promise<WebhookRecord> {
    const webhook = newWebhook(tenant, config, { webhookId: this.#newId(), now: this.#now() });
    if (!(await this.#reserveSlot(tenant))) {
      throw new ConflictError(
        `Tenant ${tenant} already has the maximum of ${this.#maxPerTenant} webhooks; delete one first`,
      );
    }
    try {
      await this.#store.create(webhook);
    } catch (error) {
      await this.#store.releaseSlot(tenant);
      throw error;
    }
    return webhook;
  }

  /** A full counter is recounted once: a request cut off between its writes leaves it high. */
  async #reserveSlot(tenant: string): Promise<boolean> {
    if (await this.#store.reserveSlot(tenant, this.#maxPerTenant)) return true;
    if ((await this.#store.reconcileSlots(tenant)) >= this.#maxPerTenant) return false;
    return this.#store.reserveSlot(tenant, this.#maxPerTenant);
  }

  /**
   * The webhook a create would store, without storing it (nor taking a
   * slot): for previews. It has no id yet; the nil UUID stands in.
   */
  draft(tenant: string, config: WebhookConfig): WebhookRecord {
    return newWebhook(tenant, config, { webhookId: DRAFT_WEBHOOK_ID, now: this.#now() });
  }

  async get(tenant: string, webhookId: string): Promise<WebhookRecord> {
    const webhook = await this.#store.get(tenant, webhookId);
    if (!webhook) throw notFound(webhookId);
    return webhook;
  }

  async list(tenant: string, query: ListQuery): Promise<Page<WebhookRecord>> {
    return listWebhooks(await this.#store.listByTenant(tenant), query);
  }

  /**
   * Optimistic concurrency: read, apply, write if the version is unchanged.
   * A racing update makes us re-apply the patch to the newer state; a racing
   * delete makes the write fail and the answer 404, never a resurrection.
   */
  update(
    tenant: string,
    webhookId: string,
    patch: WebhookPatch,
    rights: { mayRedirectCredentials?: boolean } = {},
  ): Promise<WebhookRecord> {
    return this.#change(tenant, webhookId, (current) =>
      applyPatch(current, patch, this.#now(), rights),
    );
  }

  /** A new signing secret; the old one signs too for `graceMs` (see rotateSigningSecret). */
  rotateSecret(tenant: string, webhookId: string, graceMs: number): Promise<WebhookRecord> {
    return this.#change(tenant, webhookId, (current) =>
      rotateSigningSecret(current, this.#now(), graceMs),
    );
  }

  async #change(
    tenant: string,
    webhookId: string,
    apply: (
      current: WebhookRecord,
    ) => { record: WebhookRecord; changes: Partial<WebhookRecord> } | undefined,
  ): Promise<WebhookRecord> {
    for (let attempt = 0; attempt < UPDATE_ATTEMPTS; attempt++) {
      const current = await this.get(tenant, webhookId);
      const applied = apply(current);
      if (!applied) return current;
      if (await this.#store.update(tenant, webhookId, applied.changes, current.version)) {
        return applied.record;
      }
    }
    throw new ConflictError('The webhook kept changing during the update; try again');
  }

  async delete(tenant: string, webhookId: string): Promise<void> {
    if (!(await this.#store.delete(tenant, webhookId))) throw notFound(webhookId);
    await this.#store.releaseSlot(tenant);
  }
}

const notFound = (webhookId: string) => new NotFoundError(`Webhook ${webhookId} not found`);
