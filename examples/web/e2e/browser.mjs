// Drives Debian's Chromium (puppeteer-core, headless) through GraphiQL and the demo against a
// running switchboard, and prints a JSON report for the Rust test that started the server.
//   node e2e/browser.mjs <scenario> <server URL> <screenshot folder> [arguments...]
// Scenarios: graphiql, graphiql-subscription <token> <paymentId>, demo-pay <login>,
// demo-offline <login>, demo-sign-out <login>, demo-refused, demo-refresh <login> <signing secret>.
// Every request to anything but the server is blocked and reported.
import { createHmac } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';

const [scenario, base, shots, ...args] = process.argv.slice(2);
const origin = new URL(base).origin;
const TIMEOUT = 20_000;
mkdirSync(shots, { recursive: true });

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  defaultViewport: { width: 1280, height: 800 },
});
const report = { scenario, blocked: [], cspViolations: [], pageErrors: [] };
const page = await browser.newPage();
page.setDefaultTimeout(TIMEOUT);
await page.setRequestInterception(true);
page.on('request', (request) => {
  const url = request.url();
  if (url.startsWith(origin) || url.startsWith(origin.replace('http', 'ws'))) return request.continue();
  if (url.startsWith('data:') || url.startsWith('blob:')) return request.continue();
  report.blocked.push(url);
  return request.abort('blockedbyclient');
});
page.on('pageerror', (error) => report.pageErrors.push(String(error)));
page.on('console', (message) => {
  if (message.text().includes('Content Security Policy')) report.cspViolations.push(message.text());
});
// Sockets as the browser sees them, to tell when the demo's subscription socket closes.
const cdp = await page.createCDPSession();
await cdp.send('Network.enable');
const sockets = { created: new Set(), closed: new Set() };
cdp.on('Network.webSocketCreated', (event) => sockets.created.add(event.requestId));
cdp.on('Network.webSocketClosed', (event) => sockets.closed.add(event.requestId));

const shot = (name) => page.screenshot({ path: join(shots, name) });

async function openGraphiql() {
  await page.goto(`${base}/graphql`, { waitUntil: 'load' });
  await page.waitForSelector('.graphiql-query-editor .CodeMirror');
}

/** Sets a CodeMirror editor (the first match of `selector`) to `text`. */
async function setEditor(selector, text) {
  await page.$eval(selector, (el, value) => el.CodeMirror.setValue(value), text);
}

async function runInGraphiql(query, expect) {
  await setEditor('.graphiql-query-editor .CodeMirror', query);
  await page.click('.graphiql-execute-button');
  await page.waitForFunction(
    (expected) => document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue().includes(expected),
    {},
    expect,
  );
  const text = await page.$eval('.graphiql-response .CodeMirror', (el) => el.CodeMirror.getValue());
  return JSON.parse(text);
}

async function signIn(login) {
  await page.goto(`${base}/demo/`, { waitUntil: 'load' });
  await page.waitForSelector('button[data-provider="dev"]', { visible: true });
  await Promise.all([page.waitForNavigation(), page.click('button[data-provider="dev"]')]);
  await page.type('input[name="login"]', login);
  await Promise.all([page.waitForNavigation(), page.click('form button')]);
  await page.waitForFunction((name) => document.getElementById('user')?.textContent === name, {}, login);
  await page.waitForSelector('#live[data-state="live"]');
}

/** Buys the first catalog item and pays it in the sandbox; returns the payment id. */
async function buyAndPay() {
  // Set once: a reload would lose it, so seeing it at the end proves the page never reloaded.
  await page.evaluate(() => (window.__sameDocument = true));
  await page.waitForSelector('#catalog .buy');
  await page.click('#catalog .buy');
  await page.waitForFunction(() => document.getElementById('payment-id')?.textContent);
  const paymentId = await page.$eval('#payment-id', (el) => el.textContent);
  await page.waitForSelector('#timeline li[data-status]');
  report.statusBeforePaying = await page.$eval('#timeline li:last-child', (el) => el.dataset.status);
  await page.click('#pay');
  await page.waitForSelector('#timeline li[data-status="SUCCEEDED"]');
  await page.waitForSelector(`#orders tr[data-payment="${paymentId}"][data-status="SUCCEEDED"]`);
  report.timeline = await page.$$eval('#timeline li', (items) => items.map((li) => li.dataset.status));
  report.sameDocument = await page.evaluate(() => window.__sameDocument === true);
  report.paymentId = paymentId;
  report.errorShown = await page.$eval('#error', (el) => (el.hidden ? null : el.textContent));
  return paymentId;
}

/** Refunds `paymentId` from outside the page, as another device of the same user would. */
async function refundElsewhere(paymentId) {
  const manifest = JSON.parse(readFileSync(new URL('../src/gql/persisted-documents.json', import.meta.url)));
  const [hash] = Object.entries(manifest).find(([, document]) => document.startsWith('mutation Refund('));
  const cookies = await browser.cookies();
  const csrf = cookies.find((c) => c.name.endsWith('switchboard_csrf')).value;
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-csrf-token': csrf,
      cookie: cookies.map((c) => `${c.name}=${c.value}`).join('; '),
    },
    body: JSON.stringify({
      variables: { paymentId, idempotencyKey: `elsewhere-${paymentId}` },
      extensions: { persistedQuery: { version: 1, sha256Hash: hash } },
    }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(`refund failed: ${JSON.stringify(body.errors)}`);
}

const scenarios = {
  async graphiql() {
    await openGraphiql();
    report.result = await runInGraphiql('{ serverInfo { version } }', '"version"');
    await shot('graphiql.png');
  },

  async 'graphiql-subscription'(token, paymentId) {
    await openGraphiql();
    // The headers editor: GraphiQL merges it into the socket's connection_init payload.
    await page.evaluate(() => {
      const tab = [...document.querySelectorAll('.graphiql-editor-tools button')].find((b) =>
        b.textContent.includes('Headers'),
      );
      tab.click();
    });
    const headers = '.graphiql-editor-tool[aria-label="Headers"] .graphiql-editor:not(.hidden) .CodeMirror';
    await page.waitForSelector(headers);
    await setEditor(headers, JSON.stringify({ Authorization: `Bearer ${token}` }));
    report.result = await runInGraphiql(
      `subscription { paymentUpdated(paymentId: "${paymentId}") { sequence status } }`,
      '"paymentUpdated"',
    );
    await shot('graphiql-subscription.png');
  },

  async 'demo-pay'(login) {
    await signIn(login);
    await buyAndPay();
    await shot('demo-live-timeline.png');
  },

  async 'demo-offline'(login) {
    await signIn(login);
    const paymentId = await buyAndPay();
    await page.setOfflineMode(true);
    await page.waitForSelector('#live[data-state="offline"]');
    await refundElsewhere(paymentId);
    // Still offline: the page cannot have heard of the refund.
    report.statusWhileOffline = await page.$eval(`#orders tr[data-payment="${paymentId}"]`, (tr) => tr.dataset.status);
    await page.setOfflineMode(false);
    await page.waitForSelector(`#orders tr[data-payment="${paymentId}"][data-status="REFUNDED"]`);
    await page.waitForSelector('#live[data-state="live"]');
    report.log = await page.$$eval('#log li', (items) => items.map((li) => ({ key: li.dataset.key, status: li.dataset.status })));
    report.sameDocument = await page.evaluate(() => window.__sameDocument === true);
    report.errorShown = await page.$eval('#error', (el) => (el.hidden ? null : el.textContent));
    await shot('demo-offline-back.png');
  },

  async 'demo-refresh'(login, secret) {
    await signIn(login);
    // Replace the access cookie by an expired copy of itself, signed with the server's key.
    const cookies = await browser.cookies();
    const access = cookies.find((c) => c.name.endsWith('switchboard_access'));
    const [header, payload] = access.value.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url'));
    claims.exp = Math.floor(Date.now() / 1000) - 600;
    const unsigned = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    const signature = createHmac('sha256', secret).update(unsigned).digest('base64url');
    await browser.setCookie({ ...access, value: `${unsigned}.${signature}` });
    const operations = [];
    page.on('request', (request) => {
      const body = request.postData();
      if (body) operations.push(JSON.parse(body).operationName);
    });
    await page.waitForSelector('#catalog .buy');
    await page.click('#catalog .buy');
    await page.waitForFunction(() => document.getElementById('payment-id')?.textContent);
    report.operations = operations;
    report.errorShown = await page.$eval('#error', (el) => (el.hidden ? null : el.textContent));
  },

  async 'demo-refused'() {
    await page.goto(`${base}/demo/`, { waitUntil: 'load' });
    await page.waitForSelector('#error:not([hidden])');
    report.error = await page.$eval('#error', (el) => ({ code: el.dataset.code, text: el.textContent }));
  },

  async 'demo-sign-out'(login) {
    await signIn(login);
    await buyAndPay();
    report.socketsBefore = { created: sockets.created.size, closed: sockets.closed.size };
    await page.click('#sign-out');
    await page.waitForSelector('#sign-in', { visible: true });
    // Wait (bounded by TIMEOUT) for the browser to report every socket closed.
    const deadline = Date.now() + TIMEOUT;
    while ([...sockets.created].some((id) => !sockets.closed.has(id)) && Date.now() < deadline) {
      await Promise.race([
        new Promise((resolve) => cdp.once('Network.webSocketClosed', resolve)),
        new Promise((resolve) => setTimeout(resolve, deadline - Date.now())),
      ]);
    }
    report.socketsAfter = { created: sockets.created.size, closed: sockets.closed.size };
    report.liveState = await page.$eval('#live', (el) => el.dataset.state);
  },
};

try {
  await scenarios[scenario](...args);
  console.log(JSON.stringify(report));
} catch (error) {
  await shot(`failure-${scenario}.png`).catch(() => {});
  console.error(`${scenario} failed: ${error.stack ?? error}\n${JSON.stringify(report)}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
