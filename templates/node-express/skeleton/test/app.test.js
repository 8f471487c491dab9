import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { createApp } from '../src/app.js';
import { createLogger } from '../src/logger.js';
import { SERVICE_NAME, SERVICE_VERSION } from '../src/service.js';

// Collect log lines instead of printing them.
function memoryLogger() {
  const lines = [];
  const logger = createLogger({ stream: { write: (line) => lines.push(line) } });
  return { logger, lines };
}

describe('http api', () => {
  const { logger, lines } = memoryLogger();
  const { app, readiness } = createApp({ logger });
  let server;
  let base;

  before(async () => {
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${server.address().port}`;
    readiness.ready = true;
  });

  after(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('GET / reports name and version', async () => {
    const res = await fetch(`${base}/`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { name: SERVICE_NAME, version: SERVICE_VERSION });
  });

  it('GET /healthz is ok', async () => {
    const res = await fetch(`${base}/healthz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok' });
  });

  it('GET /readyz follows readiness', async () => {
    let res = await fetch(`${base}/readyz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ready' });
    readiness.ready = false;
    try {
      res = await fetch(`${base}/readyz`);
      assert.equal(res.status, 503);
      await res.body?.cancel();
    } finally {
      readiness.ready = true;
    }
  });

  it('unknown paths are 404', async () => {
    const res = await fetch(`${base}/no/such/path`);
    assert.equal(res.status, 404);
    await res.body?.cancel();
  });

  it('GET /metrics counts requests by method, route and status', async () => {
    await (await fetch(`${base}/healthz`)).text();
    await (await fetch(`${base}/no/such/path`)).text();
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/plain/);
    const text = await res.text();
    const samples = text.split('\n');
    const has = (prefix, ...labels) =>
      samples.some((line) => line.startsWith(prefix) && labels.every((l) => line.includes(l)));
    const ok = ['handler="/healthz"', 'method="GET"', 'status="200"'];
    assert.ok(has('http_requests_total{', ...ok), 'request counter');
    assert.ok(has('http_request_duration_seconds_bucket{', ...ok), 'latency histogram');
    assert.ok(has('http_request_duration_seconds_count{', ...ok), 'latency count');
    // Unmatched URLs are grouped, so raw paths never become label values.
    assert.ok(has('http_requests_total{', 'handler="none"', 'status="404"'));
    assert.ok(!text.includes('/no/such/path'));
    // Default process and runtime metrics.
    assert.ok(has('process_cpu_user_seconds_total '), 'process metrics');
    assert.ok(has('nodejs_eventloop_lag_seconds '), 'event loop metrics');
  });

  it('logs one JSON line per request', () => {
    const entries = lines.map((line) => JSON.parse(line));
    const entry = entries.find((e) => e.message === 'request' && e.path === '/healthz');
    assert.ok(entry, 'request log line');
    assert.equal(entry.level, 'info');
    assert.equal(entry.method, 'GET');
    assert.equal(entry.status, 200);
    assert.equal(typeof entry.duration_ms, 'number');
    assert.ok(!Number.isNaN(Date.parse(entry.time)));
  });
});
