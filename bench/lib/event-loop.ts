// Event-loop delay of a bench gateway process (bench/gateway-main.ts records it; SIGUSR2 writes it out and starts afresh).

import { existsSync, readFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface EventLoopDelay { readonly p50: number; readonly p99: number; readonly max: number; readonly mean: number; readonly count: number }

/** The event-loop delay (ms) since the last call (or start); undefined when the process does not record it (another --gateway-bin). */
export async function eventLoopDelay(pid: number, file: string): Promise<EventLoopDelay | undefined> {
  rmSync(file, { force: true });
  try {
    process.kill(pid, 'SIGUSR2');
  } catch {
    return undefined;
  }
  for (let i = 0; i < 40; i++) {
    if (existsSync(file)) {
      try {
        return JSON.parse(readFileSync(file, 'utf8')) as EventLoopDelay;
      } catch {
        // being written
      }
    }
    await sleep(50);
  }
  return undefined;
}
