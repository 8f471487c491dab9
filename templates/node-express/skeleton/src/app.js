// HTTP application: routes, Prometheus metrics and access logs.

import express from 'express';
import client from 'prom-client';

import { createLogger } from './logger.js';
import { waitingFor } from './resources.js';
import { SERVICE_NAME, SERVICE_VERSION } from './service.js';

// Paths that are not measured, so that scrapes do not dominate the metrics.
const UNMEASURED = new Set(['/metrics']);

function routeTemplate(req) {
  // The matched route ('/items/:id'), never the raw URL, so that label values
  // stay bounded. Requests that match no route are grouped under 'none'.
  return req.route ? `${req.baseUrl}${req.route.path}` : 'none';
}

/**
 * Build the Express app. Each app gets its own metrics registry, so tests can
 * build as many as they like.
 */
export function createApp({
  logger = createLogger(),
  readiness = { ready: false },
  env = process.env,
} = {}) {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const labelNames = ['method', 'handler', 'status'];
  const requests = new client.Counter({
    name: 'http_requests_total',
    help: 'Total number of HTTP requests by method, route template and status.',
    labelNames,
    registers: [registry],
  });
  const duration = new client.Histogram({
    name: 'http_request_duration_seconds',
    help: 'Duration of HTTP requests in seconds by method, route template and status.',
    labelNames,
    registers: [registry],
  });

  const app = express();
  app.disable('x-powered-by');

  app.use((req, res, next) => {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const handler = routeTemplate(req);
      if (!UNMEASURED.has(handler)) {
        const labels = { method: req.method, handler, status: String(res.statusCode) };
        requests.inc(labels);
        duration.observe(labels, seconds);
      }
      logger.info('request', {
        method: req.method,
        path: handler,
        status: res.statusCode,
        duration_ms: Math.round(seconds * 1e6) / 1e3,
      });
    });
    next();
  });

  app.get('/', (_req, res) => {
    res.json({ name: SERVICE_NAME, version: SERVICE_VERSION });
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (_req, res) => {
    if (!readiness.ready) {
      res.status(503).json({ status: 'not ready' });
      return;
    }
    // Traffic waits until the database, cache and queue it needs answer.
    const waiting = await waitingFor(env);
    if (waiting.length > 0) {
      res.status(503).json({ status: 'not ready', waiting_for: waiting });
    } else {
      res.json({ status: 'ready' });
    }
  });

  app.get('/metrics', async (_req, res, next) => {
    try {
      const body = await registry.metrics();
      res.set('Content-Type', registry.contentType).send(body);
    } catch (error) {
      next(error);
    }
  });

  app.use((_req, res) => {
    res.status(404).json({ detail: 'Not Found' });
  });

  // Express recognises an error handler by its four parameters.
  app.use((error, req, res, _next) => {
    logger.error('unhandled error', { error, method: req.method, path: routeTemplate(req) });
    res.status(500).json({ detail: 'Internal Server Error' });
  });

  return { app, registry, readiness };
}
