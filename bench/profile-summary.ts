// Summarises a V8 .cpuprofile (from `npm run bench -- --profile`): self time by function and by package, and inclusive time of chosen functions.
// Usage: node dist-bench/bench/profile-summary.js FILE.cpuprofile [--top N] [--inclusive name1,name2]

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface CallFrame { readonly functionName: string; readonly url: string; readonly lineNumber: number }
interface ProfileNode { readonly id: number; readonly callFrame: CallFrame; readonly children?: readonly number[] }
interface Profile { readonly nodes: readonly ProfileNode[]; readonly samples: readonly number[]; readonly timeDeltas: readonly number[] }

/** The package (node_modules/<name>), `node:internal`, the project's own dist file, or the V8 category of a frame. */
function packageOf(url: string, fn: string): string {
  if (url === '') return `(${fn || 'native'})`;
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm?.[1] !== undefined) return nm[1];
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  const dist = /\/dist\/(.+)$/.exec(url);
  return dist?.[1] !== undefined ? `gateway:${dist[1]}` : url;
}

function main(): void {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string' }, inclusive: { type: 'string' } } });
  const file = positionals[0];
  if (file === undefined) {
    process.stderr.write('usage: profile-summary FILE.cpuprofile [--top N] [--inclusive fn1,fn2]\n');
    process.exitCode = 2;
    return;
  }
  const top = Number(values.top ?? 25);
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    self.set(id, (self.get(id) ?? 0) + dt);
    total += dt;
  });
  const byFn = new Map<string, number>();
  const byPkg = new Map<string, number>();
  for (const [id, t] of self) {
    const f = (byId.get(id) as ProfileNode).callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${f.lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + t);
    const pkg = packageOf(f.url, f.functionName);
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + t);
  }
  const pct = (t: number): string => `${((100 * t) / total).toFixed(1).padStart(5)} %`;
  const print = (title: string, m: Map<string, number>): void => {
    process.stdout.write(`\n${title}\n`);
    for (const [k, t] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${pct(t)}  ${k}\n`);
  };
  process.stdout.write(`${file}: ${(total / 1e6).toFixed(2)} s sampled\n`);
  print('self time by package', byPkg);
  print('self time by function', byFn);
  if (values.inclusive !== undefined) {
    const names = new Set(values.inclusive.split(','));
    const incl = new Map<string, number>();
    for (const [id, t] of self) {
      const seen = new Set<string>();
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const fn = (byId.get(cur) as ProfileNode).callFrame.functionName;
        if (names.has(fn) && !seen.has(fn)) {
          seen.add(fn);
          incl.set(fn, (incl.get(fn) ?? 0) + t);
        }
      }
    }
    print('inclusive time', incl);
  }
}

main();
