// The demo's screens: sign in (cookie mode), buy from the catalog, pay in the sandbox and watch
// the payment live, list orders with a refund button, sign out.
import { createTransport, type Transport } from './client';
import { describe, errorCode } from './errors';
import { LiveSession, type FeedEvent, type LiveState, type Order } from './live';
import {
  CatalogQuery,
  CreatePaymentMutation,
  LogoutMutation,
  RefundMutation,
  SandboxPayMutation,
  StartLoginMutation,
  ViewerQuery,
} from './operations';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

let transport: Transport = createTransport(socketChanged);
let session: LiveSession | null = null;
let watched: string | null = null;

function socketChanged(state: 'open' | 'closed') {
  document.body.dataset.socket = state;
}

function showError(error: unknown) {
  const box = $('error');
  box.textContent = describe(error);
  box.dataset.code = errorCode(error);
  box.hidden = false;
}

function liveState(state: LiveState) {
  $('live').dataset.state = state;
  $('live').title = state;
  // Back online: a connection error is over.
  if (state === 'live' && $('error').dataset.code === 'NETWORK') clearError();
}

function clearError() {
  $('error').hidden = true;
}

function money(amount: number, currency: string): string {
  return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(amount / 100);
}

function item(text: string, status?: string): HTMLLIElement {
  const li = document.createElement('li');
  li.textContent = text;
  if (status) {
    const badge = document.createElement('span');
    badge.className = `status status-${status}`;
    badge.textContent = ` ${status}`;
    li.append(badge);
  }
  return li;
}

async function boot() {
  const viewer = await transport.client.query(ViewerQuery, {}).toPromise();
  if (viewer.error) return showError(viewer.error);
  const { me, serverInfo, loginProviders } = viewer.data!;
  // The publishable key is public; an app hands it to loadStripe() for the Payment Element.
  const stripeKey = serverInfo.stripePublishableKey ? ` · ${serverInfo.stripePublishableKey}` : '';
  $('server').textContent = `v${serverInfo.version} · ${serverInfo.environment} · ${serverInfo.paymentProvider}${stripeKey}`;
  if (!me) return showSignIn(loginProviders);
  $('user').textContent = me.name ?? me.id;
  $('sign-out').hidden = false;
  $('shop').hidden = false;
  $('orders-section').hidden = false;
  await showCatalog();
  session = new LiveSession(transport.client, transport.ws, me.id, {
    state: liveState,
    orders: renderOrders,
    applied: (event) => $('log').append(logItem(event)),
    timeline: renderTimeline,
    error: showError,
  });
  void session.run();
}

function showSignIn(providers: { name: string; displayName: string }[]) {
  $('sign-in').hidden = false;
  const list = $('providers');
  list.replaceChildren();
  for (const provider of providers) {
    const button = document.createElement('button');
    button.textContent = `Sign in with ${provider.displayName}`;
    button.dataset.provider = provider.name;
    button.onclick = async () => {
      // The server sets the login cookie on this answer, and after the provider sets the
      // session cookies and sends the browser back here.
      const started = await transport.client
        .mutation(StartLoginMutation, { provider: provider.name, redirectUri: location.href })
        .toPromise();
      if (started.error) return showError(started.error);
      location.assign(started.data!.startLogin.authorizationUrl);
    };
    list.append(button);
  }
}

async function showCatalog() {
  const catalog = await transport.client.query(CatalogQuery, {}).toPromise();
  if (catalog.error) return showError(catalog.error);
  const list = $('catalog');
  list.replaceChildren();
  for (const price of catalog.data!.catalog.filter((p) => !p.interval)) {
    const li = item(`${price.product ?? price.id} — ${money(price.unitAmount, price.currency)} `);
    const buy = document.createElement('button');
    buy.textContent = 'Buy';
    buy.className = 'buy';
    buy.onclick = () => buyPrice(price.product ?? price.id, price.unitAmount, price.currency);
    li.append(buy);
    list.append(li);
  }
}

async function buyPrice(product: string, amount: number, currency: string) {
  clearError();
  // `manual`: the sandbox waits for the Pay button instead of paying on its own.
  const created = await transport.client
    .mutation(CreatePaymentMutation, {
      input: { amount, currency, description: `${product} (manual)` },
      idempotencyKey: crypto.randomUUID(),
    })
    .toPromise();
  if (created.error) return showError(created.error);
  const payment = created.data!.createPaymentIntent.payment;
  watched = payment.id;
  $('payment').hidden = false;
  $('payment-id').textContent = payment.id;
  ($('pay') as HTMLButtonElement).disabled = false;
  session?.watch(payment.id);
}

$('pay').onclick = async () => {
  if (!watched) return;
  clearError();
  ($('pay') as HTMLButtonElement).disabled = true;
  const paid = await transport.client
    .mutation(SandboxPayMutation, { paymentId: watched, outcome: 'SUCCEED' })
    .toPromise();
  if (paid.error) {
    ($('pay') as HTMLButtonElement).disabled = false;
    showError(paid.error);
  }
};

$('sign-out').onclick = async () => {
  clearError();
  const out = await transport.client.mutation(LogoutMutation, {}).toPromise();
  if (out.error) showError(out.error);
  // Closing the session closes its subscriptions: the socket goes with it.
  session?.stop();
  session = null;
  watched = null;
  transport = createTransport(socketChanged);
  for (const id of ['shop', 'payment', 'orders-section', 'sign-out']) $(id).hidden = true;
  $('user').textContent = '';
  $('orders').replaceChildren();
  $('log').replaceChildren();
  $('timeline').replaceChildren();
  await boot();
};

function renderTimeline(events: FeedEvent[]) {
  $('timeline').replaceChildren(
    ...events.map((event) => {
      const li = item(`#${event.sequence} ${event.kind.toLowerCase().replace('_', ' ')}`, event.status);
      li.dataset.status = event.status;
      const time = document.createElement('time');
      time.textContent = new Date(event.occurredAt).toLocaleTimeString();
      li.append(time);
      return li;
    }),
  );
}

function renderOrders(orders: Order[]) {
  $('orders').replaceChildren(
    ...orders.map((order) => {
      const row = document.createElement('tr');
      row.dataset.payment = order.paymentId;
      row.dataset.status = order.status;
      const cells = [order.description ?? order.paymentId, money(order.amount, order.currency), order.status];
      for (const text of cells) {
        const td = document.createElement('td');
        td.textContent = text;
        row.append(td);
      }
      const actions = document.createElement('td');
      if (order.status === 'SUCCEEDED' || order.status === 'PARTIALLY_REFUNDED') {
        const refund = document.createElement('button');
        refund.textContent = 'Refund';
        refund.className = 'refund';
        refund.onclick = async () => {
          refund.disabled = true;
          clearError();
          const done = await transport.client
            .mutation(RefundMutation, { paymentId: order.paymentId, idempotencyKey: crypto.randomUUID() })
            .toPromise();
          if (done.error) {
            refund.disabled = false;
            showError(done.error);
          }
        };
        actions.append(refund);
      }
      row.append(actions);
      return row;
    }),
  );
}

function logItem(event: FeedEvent): HTMLLIElement {
  const li = item(`${event.payment.description ?? event.paymentId} #${event.sequence}`, event.status);
  li.dataset.key = `${event.paymentId}#${event.sequence}`;
  li.dataset.status = event.status;
  return li;
}

void boot();
