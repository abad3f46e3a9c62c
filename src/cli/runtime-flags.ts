// The V8 flags the gateway runs with: set by every launcher (Dockerfile, `npm start`, the bin's
// shebang) and by the bench. node refuses them in NODE_OPTIONS, and they cannot be set once V8 runs.
//
// --single-threaded-gc: garbage collection on the event loop's thread only. On a small host shared
//   with the PACS (or a load generator), V8's helper threads for concurrent marking competed for
//   the cores and put multi-millisecond stalls into other processes' requests (p99 of DICOMweb on
//   one connection: 4 → 2 ms; docs/benchmarks.md).
// --max-semi-space-size=4 --min-semi-space-size=4: a young generation of a fixed 4 MB per semi-space
//   (instead of growing from 1 to 16 MB and shrinking when idle): scavenges come more often and each
//   is shorter, the idle process is ~30 MB smaller, and a 52 MB C-STORE no longer grows the peak RSS
//   by the young generation's regrowth after an idle spell.

/** The flags, as node takes them before the script. */
export const RUNTIME_FLAGS: readonly string[] = Object.freeze(['--single-threaded-gc', '--max-semi-space-size=4', '--min-semi-space-size=4']);

/** The runtime flags this process was started without. */
export function missingRuntimeFlags(execArgv: readonly string[] = process.execArgv): string[] {
  return RUNTIME_FLAGS.filter((f) => !execArgv.includes(f));
}
