// Linux /proc readings for the processes under test: CPU time, resident memory, peak RSS (and its reset).

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

let clockTicks: number | undefined;

/** Clock ticks per second (`getconf CLK_TCK`, almost always 100). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    clockTicks = Number.isFinite(n) && n > 0 ? n : 100;
  }
  return clockTicks;
}

/** Fields of /proc/PID/stat after the `(comm)` field, which may itself contain spaces. */
function statFields(pid: number): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // proc(5): field 3 (state) follows ") "; index 0 here is field 3.
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** User + system CPU seconds of a process (all its threads) so far; NaN when it is gone. */
export function cpuSeconds(pid: number): number {
  const f = statFields(pid);
  if (f === undefined) return Number.NaN;
  // proc(5): utime is field 14, stime field 15 (index 11 and 12 here).
  return (Number(f[11]) + Number(f[12])) / ticksPerSecond();
}

/** Child process IDs of `pid` (e.g. nginx workers of a master). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(Number(name));
    // proc(5): ppid is field 4 (index 1 here).
    if (f !== undefined && Number(f[1]) === pid) out.push(Number(name));
  }
  return out;
}

/** A field of /proc/PID/status in kB (VmRSS, VmHWM, …); NaN when absent. */
function statusKb(pid: number, field: string): number {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return Number.NaN;
  }
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(text);
  return m?.[1] === undefined ? Number.NaN : Number(m[1]);
}

/** Resident set size now, in bytes. */
export function rssBytes(pid: number): number {
  return statusKb(pid, 'VmRSS') * 1024;
}

/** Peak resident set size since start or the last {@link resetPeakRss}, in bytes. */
export function peakRssBytes(pid: number): number {
  return statusKb(pid, 'VmHWM') * 1024;
}

/** Resets VmHWM to the current RSS (proc(5): writing 5 to /proc/PID/clear_refs, Linux ≥ 4.0). */
export function resetPeakRss(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

/** One-minute load average and the number of CPUs, for the report. */
export function machineLoad(): { load1: number; load5: number; cpus: number } {
  const [l1, l5] = readFileSync('/proc/loadavg', 'utf8').split(' ');
  const cpus = readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor')).length;
  return { load1: Number(l1), load5: Number(l5), cpus };
}
