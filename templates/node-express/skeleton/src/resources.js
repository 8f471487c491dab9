// The resources paved gives the service: a database, a cache, a queue, each
// as a URL in the environment (DATABASE_URL, REDIS_URL, QUEUE_URL; each
// resource also as <NAME>_URL). The service is ready only while every one of
// them answers on its port. URLs hold credentials: only variable names are
// ever shown.

import net from 'node:net';

export const VARIABLES = ['DATABASE_URL', 'REDIS_URL', 'QUEUE_URL'];
const DEFAULT_PORTS = {
  'postgres:': 5432,
  'postgresql:': 5432,
  'redis:': 6379,
  'rediss:': 6379,
  'http:': 80,
  'https:': 443,
};
// How long readiness waits for one resource to accept a connection.
const CONNECT_TIMEOUT_MS = 1000;

/** The resource variables that are set, with their URLs. */
export function configured(env = process.env) {
  return Object.fromEntries(VARIABLES.filter((name) => env[name]).map((name) => [name, env[name]]));
}

/** The host and port a resource URL points at, or null if it names none. */
export function endpoint(url) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const port = Number(parsed.port) || DEFAULT_PORTS[parsed.protocol];
  return host && port ? { host, port } : null;
}

/** Whether the resource accepts a TCP connection within the timeout. */
export function answers(url) {
  const target = endpoint(url);
  if (!target) {
    return Promise.resolve(false);
  }
  return new Promise((resolve) => {
    const socket = net.connect(target);
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The variables whose resources do not answer, checked together. */
export async function waitingFor(env = process.env) {
  const urls = configured(env);
  const names = Object.keys(urls);
  const results = await Promise.all(names.map((name) => answers(urls[name])));
  return names.filter((_, i) => !results[i]);
}
