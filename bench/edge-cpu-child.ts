// One gateway in this process, for bench/edge-cpu.ts: reports its own CPU time (process.cpuUsage) around each measured run.
//
// argv: BUILD_DIR CONFIG_FILE. Control over fd 3 (lines in: "start", "stop", "quit"; lines out: "ready <port>", "cpu <µs> <user µs> <system µs>").
// The gateway's log goes to stdout (the parent sends it to a file), as in production.

import { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

const [build, configFile] = process.argv.slice(2) as [string, string];
const load = await import(pathToFileURL(`${build}/config/load.js`).href) as { loadConfig(file: string): unknown };
const gw = await import(pathToFileURL(`${build}/gateway.js`).href) as {
  createGateway(config: unknown, o: Record<string, unknown>): { start(): Promise<{ https: { port: number } }>; stop(): Promise<void> };
};
const gateway = gw.createGateway(load.loadConfig(configFile), { watch: false });
const { https } = await gateway.start();
// fd 3 is a socket pair from the parent's spawn: a net.Socket reads and writes it (fs streams cannot).
const out = new Socket({ fd: 3, readable: true, writable: true });
const control = createInterface({ input: out });
let mark = process.cpuUsage();
out.write(`ready ${https.port}\n`);
for await (const line of control) {
  if (line === 'start') mark = process.cpuUsage();
  else if (line === 'stop') {
    const d = process.cpuUsage(mark);
    out.write(`cpu ${d.user + d.system} ${d.user} ${d.system}\n`);
  } else if (line === 'quit') break;
}
await gateway.stop();
process.exit(0);
