// Entry point: serve on $PORT and stop gracefully on SIGTERM or SIGINT.

import { createApp } from './app.js';
import { createLogger } from './logger.js';
import { SERVICE_NAME, SERVICE_VERSION } from './service.js';

const DEFAULT_PORT = {{ port }};
// In-flight requests get this long to finish; keep it below the pod's
// terminationGracePeriodSeconds.
const SHUTDOWN_TIMEOUT_MS = 20_000;

function portFromEnv(value) {
  if (value === undefined || value === '') {
    return DEFAULT_PORT;
  }
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`PORT must be an integer from 0 to 65535, got ${JSON.stringify(value)}`);
  }
  return port;
}

const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'info' });
const { app, readiness } = createApp({ logger });

const server = app.listen(portFromEnv(process.env.PORT), (error) => {
  if (error) {
    logger.error('cannot listen', { error });
    process.exit(1);
  }
  readiness.ready = true;
  logger.info('started', {
    service: SERVICE_NAME,
    version: SERVICE_VERSION,
    port: server.address().port,
  });
});
// Outlive the idle timeout of the proxy in front (ingress-nginx keeps upstream
// connections for 60 s), so that it never reuses a connection we closed.
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;

function shutdown(signal) {
  logger.info('shutting down', { signal });
  readiness.ready = false;
  const timer = setTimeout(() => {
    logger.error('shutdown timed out, exiting', { timeout_ms: SHUTDOWN_TIMEOUT_MS });
    process.exit(1);
  }, SHUTDOWN_TIMEOUT_MS);
  timer.unref();
  // Stop accepting connections, let in-flight requests finish, close idle ones.
  server.close((error) => {
    if (error) {
      logger.error('error while closing the server', { error });
      process.exit(1);
    }
    logger.info('stopped', { service: SERVICE_NAME });
    process.exit(0);
  });
  server.closeIdleConnections();
}

process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
