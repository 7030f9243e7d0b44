// Live payment state that survives going offline: the order list (fed by `myPaymentEvents`) and
// one payment's timeline (fed by `paymentUpdated`).
//
// Each cycle catches up over HTTP with `paymentEvents(after: <stored cursor>)`, then subscribes
// from the cursor it reached, so nothing between the two is missed. Every payment's events
// carry a sequence that only grows, so an event at or below the sequence already applied is a
// duplicate and is dropped: nothing is shown twice. The cursor and the orders are kept in
// localStorage, per user. Going offline ends the cycle; coming back (or a timer) starts the next.
import type { Client } from '@urql/core';
import type { Client as WsClient } from 'graphql-ws';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { PaymentEventFieldsFragment } from './gql/graphql';
import {
  MyPaymentEventsSubscription,
  PaymentEventsQuery,
  PaymentUpdatedSubscription,
} from './operations';

export type FeedEvent = PaymentEventFieldsFragment;

export interface Order {
  paymentId: string;
  description: string | null;
  amount: number;
  currency: string;
  status: string;
  amountRefunded: number;
  sequence: number;
}

export type LiveState = 'connecting' | 'live' | 'offline' | 'stopped';

export interface LiveView {
  state(state: LiveState): void;
  orders(orders: Order[]): void;
  applied(event: FeedEvent): void;
  timeline(events: FeedEvent[]): void;
  error(error: unknown): void;
}

interface Stored {
  cursor: string | null;
  orders: Order[];
}

const RETRY_MS = 2_000;

export class LiveSession {
  private cursor: string | null;
  private orders = new Map<string, Order>();
  private timelineEvents = new Map<number, FeedEvent>();
  private watched: string | null = null;
  private timelineCursor: string | null = null;
  private disposeTimeline: (() => void) | null = null;
  private endCycle: (() => void) | null = null;
  private wake: (() => void) | null = null;
  private stopped = false;
  private readonly storageKey: string;

  constructor(
    private readonly http: Client,
    private readonly ws: WsClient,
    userId: string,
    private readonly view: LiveView,
  ) {
    this.storageKey = `switchboard-demo:${userId}`;
    const stored = this.load();
    this.cursor = stored.cursor;
    for (const order of stored.orders) this.orders.set(order.paymentId, order);
    addEventListener('offline', this.onOffline);
    addEventListener('online', this.onOnline);
  }

  /** Runs cycles until [`stop`]. */
  async run(): Promise<void> {
    this.view.orders(this.sortedOrders());
    while (!this.stopped) {
      this.view.state('connecting');
      try {
        if (!navigator.onLine) throw new Error('offline');
        await this.catchUp();
        if (this.stopped) break;
        await this.subscribe();
      } catch (error) {
        if (!this.stopped && navigator.onLine) this.view.error(error);
      }
      if (this.stopped) break;
      this.view.state('offline');
      await this.pause();
    }
    this.view.state('stopped');
  }

  /** Ends everything: the subscriptions, the socket, the listeners. */
  stop(): void {
    this.stopped = true;
    removeEventListener('offline', this.onOffline);
    removeEventListener('online', this.onOnline);
    this.disposeTimeline?.();
    this.endCycle?.();
    this.wake?.();
    void this.ws.dispose();
  }

  /** Shows the timeline of `paymentId`, live. */
  watch(paymentId: string): void {
    this.disposeTimeline?.();
    this.watched = paymentId;
    this.timelineEvents.clear();
    this.timelineCursor = null;
    this.view.timeline([]);
    if (this.endCycle) this.subscribeTimeline();
  }

  private onOffline = () => {
    // Offline, the socket may linger half-open: end the cycle now and catch up when back.
    this.endCycle?.();
    void this.ws.terminate();
  };

  private onOnline = () => this.wake?.();

  private pause(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, RETRY_MS);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }

  /** Applies every event after the stored cursor, page by page. */
  private async catchUp(): Promise<void> {
    for (;;) {
      const result = await this.http.query(PaymentEventsQuery, { after: this.cursor }).toPromise();
      if (result.error) throw result.error;
      const page = result.data!.paymentEvents;
      for (const event of page.nodes) this.applyFeed(event);
      if (!page.pageInfo.hasNextPage) return;
    }
  }

  /** Subscribes the order feed (and the timeline); resolves when the socket's cycle ends. */
  private subscribe(): Promise<void> {
    return new Promise((resolve, reject) => {
      let open = true;
      const finish = (error?: unknown) => {
        if (!open) return;
        open = false;
        this.endCycle = null;
        disposeFeed();
        this.disposeTimeline?.();
        this.disposeTimeline = null;
        if (error && !this.stopped) reject(error);
        else resolve();
      };
      const disposeFeed = subscribe(
        this.ws,
        MyPaymentEventsSubscription,
        { after: this.cursor },
        (data) => this.applyFeed(data.myPaymentEvents),
        finish,
      );
      this.endCycle = () => finish();
      this.view.state('live');
      if (this.watched) this.subscribeTimeline();
    });
  }

  private subscribeTimeline(): void {
    const paymentId = this.watched!;
    this.disposeTimeline?.();
    this.disposeTimeline = subscribe(
      this.ws,
      PaymentUpdatedSubscription,
      { paymentId, after: this.timelineCursor },
      (data) => this.applyTimeline(data.paymentUpdated),
      (error) => {
        // A closed socket ends the whole cycle, which reconnects; only refusals are news.
        if (Array.isArray(error)) this.view.error(error);
      },
    );
  }

  private applyFeed(event: FeedEvent): void {
    const order = this.orders.get(event.paymentId);
    if (order && event.sequence <= order.sequence) return;
    this.orders.set(event.paymentId, {
      paymentId: event.paymentId,
      description: event.payment.description ?? null,
      amount: event.payment.amount,
      currency: event.payment.currency,
      status: event.status,
      amountRefunded: event.amountRefunded,
      sequence: event.sequence,
    });
    this.cursor = event.cursor;
    this.save();
    this.view.applied(event);
    this.view.orders(this.sortedOrders());
  }

  private applyTimeline(event: FeedEvent): void {
    if (event.paymentId !== this.watched || this.timelineEvents.has(event.sequence)) return;
    this.timelineEvents.set(event.sequence, event);
    this.timelineCursor = event.cursor;
    this.view.timeline([...this.timelineEvents.values()].sort((a, b) => a.sequence - b.sequence));
  }

  private sortedOrders(): Order[] {
    return [...this.orders.values()].reverse();
  }

  private load(): Stored {
    try {
      return JSON.parse(localStorage.getItem(this.storageKey) ?? '') as Stored;
    } catch {
      return { cursor: null, orders: [] };
    }
  }

  private save(): void {
    const stored: Stored = { cursor: this.cursor, orders: [...this.orders.values()] };
    localStorage.setItem(this.storageKey, JSON.stringify(stored));
  }
}

/** One subscription by its trusted-document hash; returns its disposer. */
function subscribe<R, V>(
  ws: WsClient,
  document: TypedDocumentNode<R, V>,
  variables: V,
  next: (data: R) => void,
  done: (error?: unknown) => void,
): () => void {
  const hash = (document as unknown as { __meta__: { hash: string } }).__meta__.hash;
  return ws.subscribe<R>(
    {
      query: '',
      variables: variables as Record<string, unknown>,
      extensions: { persistedQuery: { version: 1, sha256Hash: hash } },
    },
    {
      next: (result) => {
        if (result.errors?.length) done(result.errors);
        else if (result.data) next(result.data);
      },
      error: (error) => done(error),
      complete: () => done(),
    },
  );
}
