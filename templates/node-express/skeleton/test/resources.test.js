import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';

import { createApp } from '../src/app.js';
import { createLogger } from '../src/logger.js';
import { endpoint } from '../src/resources.js';

const quiet = createLogger({ stream: { write: () => {} } });

/** Serves an app built with `env` on loopback; its base URL and a stop. */
async function serve(env) {
  const { app, readiness } = createApp({ logger: quiet, env });
  readiness.ready = true;
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    base: `http://127.0.0.1:${server.address().port}`,
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

describe('resources and readiness', () => {
  let listening;
  let openPort;
  let closedPort;

  before(async () => {
    // A port that accepts connections, as a resource would, and one nothing listens on.
    listening = net.createServer((socket) => socket.destroy()).listen(0, '127.0.0.1');
    await new Promise((resolve) => listening.once('listening', resolve));
    openPort = listening.address().port;
    const probe = net.createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => probe.once('listening', resolve));
    closedPort = probe.address().port;
    await new Promise((resolve) => probe.close(resolve));
  });

  after(async () => {
    await new Promise((resolve) => listening.close(resolve));
  });

  it('is ready without resources', async () => {
    const { base, stop } = await serve({});
    const res = await fetch(`${base}/readyz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ready' });
    await stop();
  });

  it('is ready while its resources answer', async () => {
    const { base, stop } = await serve({
      DATABASE_URL: `postgres://app:secret@127.0.0.1:${openPort}/app`,
      REDIS_URL: `redis://127.0.0.1:${openPort}`,
    });
    const res = await fetch(`${base}/readyz`);
    assert.equal(res.status, 200);
    await stop();
  });

  it('is not ready while a resource does not answer, and names only the variable', async () => {
    const { base, stop } = await serve({
      DATABASE_URL: `postgres://app:secret@127.0.0.1:${openPort}/app`,
      QUEUE_URL: `http://127.0.0.1:${closedPort}/000000000000/jobs`,
    });
    const res = await fetch(`${base}/readyz`);
    assert.equal(res.status, 503);
    const text = await res.text();
    assert.deepEqual(JSON.parse(text), { status: 'not ready', waiting_for: ['QUEUE_URL'] });
    assert.ok(!text.includes('secret'));
    await stop();
  });

  it('reads host and port from the URL or its scheme', () => {
    assert.deepEqual(endpoint('postgres://u:p@db.internal/app'), { host: 'db.internal', port: 5432 });
    assert.deepEqual(endpoint('rediss://cache:6380'), { host: 'cache', port: 6380 });
    assert.equal(endpoint('not a url'), null);
  });
});
