// Reads a password from stdin (--password-stdin) or from the terminal without echoing it.

import { createInterface } from 'node:readline';
import { GatewayError } from '../errors.js';

/** Reads all of stdin and returns its first line (no trailing newline). */
export async function readStdinLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}

/** Asks for a secret on the terminal with echo off. Fails when stdin is not a terminal. */
export async function promptHidden(question: string): Promise<string> {
  if (!process.stdin.isTTY) throw new GatewayError('ERR_USAGE', 'no terminal to ask for the password: pass --password-stdin and pipe it in');
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  const out = rl as unknown as { _writeToOutput: (s: string) => void; output: NodeJS.WritableStream };
  let asked = false;
  out._writeToOutput = (s: string) => {
    if (!asked) { out.output.write(s); asked = true; }
  };
  try {
    return await new Promise<string>((resolve) => rl.question(question, resolve));
  } finally {
    rl.close();
    process.stderr.write('\n');
  }
}
