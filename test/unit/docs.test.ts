// The README documents every error code and every CLI command (fastify's habit: a code without docs is a bug).

import { readFileSync } from 'node:fs';
import t from 'tap';
import { ERRORS } from '../../src/errors.js';

const readme = readFileSync('README.md', 'utf8');

t.test('every error code is in the README error table', async (t) => {
  for (const code of Object.keys(ERRORS)) t.match(readme, new RegExp(`\\| \`${code}\` \\|`), code);
});

t.test('every top-level config option is in the README', async (t) => {
  const { configSchema } = await import('../../src/config/schema.js');
  for (const key of Object.keys(configSchema.properties)) t.match(readme, new RegExp(`\`${key}[.\`]`), key);
});
