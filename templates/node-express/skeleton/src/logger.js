// Structured logging: one JSON object per line, on stdout by default.

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 };

function serialise(value) {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, stack: value.stack };
  }
  return value;
}

export function createLogger({ level = 'info', stream = process.stdout, base = {} } = {}) {
  const threshold = LEVELS[String(level).toLowerCase()] ?? LEVELS.info;

  function write(name, message, fields) {
    if (LEVELS[name] < threshold) {
      return;
    }
    const entry = { time: new Date().toISOString(), level: name, message, ...base };
    for (const [key, value] of Object.entries(fields ?? {})) {
      entry[key] = serialise(value);
    }
    stream.write(`${JSON.stringify(entry)}\n`);
  }

  return {
    debug: (message, fields) => write('debug', message, fields),
    info: (message, fields) => write('info', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    error: (message, fields) => write('error', message, fields),
  };
}
