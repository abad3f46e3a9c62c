// The gateway's V8 flags (src/cli/runtime-flags.ts) are set by every way of starting it.

import { readFileSync } from 'node:fs';
import t from 'tap';
import { missingRuntimeFlags, RUNTIME_FLAGS } from '../../src/cli/runtime-flags.js';

const read = (file: string): string => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');

t.test('the launchers start node with the runtime flags', async (t) => {
  const flags = RUNTIME_FLAGS.join(' ');
  t.ok(RUNTIME_FLAGS.includes('--single-threaded-gc'), 'garbage collection without helper threads');
  t.match(read('bin/pacs-gateway.js').split('\n')[0], `#!/usr/bin/env -S node ${flags}`, 'the bin\'s shebang');
  const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
  t.match(pkg.scripts['start'], `node ${flags} bin/pacs-gateway.js run`, 'npm start');
  const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(read('Dockerfile'))?.[1];
  t.same(JSON.parse(entrypoint ?? '[]'), ['node', ...RUNTIME_FLAGS, 'bin/pacs-gateway.js'], 'the container\'s entrypoint');
});

t.test('missingRuntimeFlags names the flags a process lacks', async (t) => {
  t.same(missingRuntimeFlags([...RUNTIME_FLAGS]), []);
  t.same(missingRuntimeFlags([]), [...RUNTIME_FLAGS]);
  t.same(missingRuntimeFlags(['--single-threaded-gc']), RUNTIME_FLAGS.filter((f) => f !== '--single-threaded-gc'));
});

t.test('node accepts the flags (a typo would stop the container from starting)', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(process.execPath, [...RUNTIME_FLAGS, '-e', 'process.stdout.write(JSON.stringify(process.execArgv))'], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.same((JSON.parse(r.stdout) as string[]).slice(0, RUNTIME_FLAGS.length), [...RUNTIME_FLAGS]);
});
