// Change-notice subscriptions on a second Redis connection (a subscribed connection can do nothing else).

import { Cluster } from 'ioredis';
import type { Logger } from 'pino';
import { GatewayError } from '../errors.js';
import { firstOutcome, quitClient, redactError, type RedisClient } from './redis-connection.js';

type MessageListener = (message: string) => void;

export interface RedisSubscriberOptions {
  /** The store's command connection; the subscriber is its duplicate (same target, credentials, TLS). */
  readonly main: RedisClient;
  readonly keyPrefix: string;
  readonly secrets: readonly string[];
  readonly log: Logger;
  /** How long the first subscribe waits for the connection to come up. */
  readonly startTimeoutMs: number;
  readonly quitTimeoutMs: number;
  /** Told when notices may have been missed (`lost`) and when they flow again (`restored`). */
  readonly onEvent: (event: 'subscription-lost' | 'subscription-restored') => void;
}

/**
 * Keeps every registered channel subscribed: the connection is opened on first use, and on
 * every (re)connect it subscribes to all channels again, then reports `restored`. Channel
 * names are prefixed with the key prefix, like keys.
 */
export class RedisSubscriber {
  readonly #o: RedisSubscriberOptions;
  readonly #channels = new Map<string, Set<MessageListener>>();
  #client: RedisClient | undefined;
  #starting: Promise<void> | undefined;
  #ready = false;
  #closed = false;

  constructor(options: RedisSubscriberOptions) {
    this.#o = options;
  }

  #connection(): RedisClient {
    if (this.#client !== undefined) return this.#client;
    const { main } = this.#o;
    // Our own resubscription on `ready` also covers channels whose first SUBSCRIBE failed.
    const sub: RedisClient = main instanceof Cluster ? main.duplicate() : main.duplicate({ autoResubscribe: false });
    sub.on('error', (err: unknown) => this.#o.log.debug({ err: redactError(err, this.#o.secrets) }, 'subscriber connection error'));
    sub.on('close', () => {
      if (!this.#ready) return;
      this.#ready = false;
      if (!this.#closed) this.#o.onEvent('subscription-lost');
    });
    sub.on('ready', () => void this.#resubscribe(sub));
    sub.on('message', (channel: string, message: string) => this.#deliver(channel, message));
    this.#client = sub;
    this.#starting = firstOutcome(sub, this.#o.startTimeoutMs).then(() => { this.#starting = undefined; });
    return sub;
  }

  async #resubscribe(sub: RedisClient): Promise<void> {
    const channels = [...this.#channels.keys()].map((c) => this.#o.keyPrefix + c);
    try {
      if (channels.length > 0) await sub.subscribe(...channels);
      if (this.#closed) return;
      this.#ready = true;
      this.#o.onEvent('subscription-restored');
    } catch (err) {
      this.#o.log.error({ err: redactError(err, this.#o.secrets) }, 'cannot resubscribe to change notices');
    }
  }

  #deliver(channel: string, message: string): void {
    const { keyPrefix } = this.#o;
    if (!channel.startsWith(keyPrefix)) return;
    for (const l of this.#channels.get(channel.slice(keyPrefix.length)) ?? []) {
      try {
        l(message);
      } catch (err) {
        this.#o.log.error({ err: redactError(err, this.#o.secrets), channel }, 'change-notice listener failed');
      }
    }
  }

  /** Registers the listener (kept even if this rejects) and subscribes the channel now if Redis is up. */
  async subscribe(channel: string, listener: MessageListener): Promise<void> {
    if (this.#closed) throw new GatewayError('ERR_STORE_UNAVAILABLE', 'The state store is closed');
    let set = this.#channels.get(channel);
    if (set === undefined) this.#channels.set(channel, (set = new Set()));
    set.add(listener);
    const sub = this.#connection();
    if (this.#starting !== undefined) await this.#starting;
    try {
      await sub.subscribe(this.#o.keyPrefix + channel);
    } catch (err) {
      throw new GatewayError('ERR_STORE_UNAVAILABLE', undefined, { cause: redactError(err, this.#o.secrets), detail: { store: 'redis' } });
    }
  }

  async unsubscribe(channel: string, listener: MessageListener): Promise<void> {
    const set = this.#channels.get(channel);
    if (set === undefined || !set.delete(listener) || set.size > 0) return;
    this.#channels.delete(channel);
    await this.#client?.unsubscribe(this.#o.keyPrefix + channel).catch(() => undefined);
  }

  /** Whether the connection is up and every registered channel subscribed. */
  isSubscribed(): boolean {
    return this.#ready && !this.#closed;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#ready = false;
    this.#channels.clear();
    if (this.#client !== undefined) await quitClient(this.#client, this.#o.quitTimeoutMs);
  }
}
