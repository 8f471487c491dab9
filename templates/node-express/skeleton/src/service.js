// Service identity, read from package.json so there is one source of truth.

import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

export const SERVICE_NAME = pkg.name;
export const SERVICE_VERSION = pkg.version;
export const SERVICE_DESCRIPTION = pkg.description;
