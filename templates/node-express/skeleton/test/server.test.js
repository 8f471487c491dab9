import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const serverPath = fileURLToPath(new URL('../src/server.js', import.meta.url));

it('serves on $PORT and stops gracefully on SIGTERM', { timeout: 20_000 }, async () => {
  const child = spawn(process.execPath, [serverPath], {
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const entries = [];
  const lines = createInterface({ input: child.stdout });
  const started = new Promise((resolve, reject) => {
    lines.on('line', (line) => {
      const entry = JSON.parse(line);
      entries.push(entry);
      if (entry.message === 'started') {
        resolve(entry);
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited early with ${code}`)));
  });
  const exited = once(child, 'close');

  const { port } = await started;
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  assert.equal(res.status, 200);
  await res.text();

  child.kill('SIGTERM');
  const [code] = await exited;
  assert.equal(code, 0);
  const messages = entries.map((e) => e.message);
  assert.ok(messages.includes('shutting down'));
  assert.equal(messages.at(-1), 'stopped');
});
