#!/usr/bin/env -S node --single-threaded-gc --max-semi-space-size=4 --min-semi-space-size=4
// Thin launcher: the CLI lives in src/cli (compiled to dist/cli).
import { main } from '../dist/cli/main.js';
main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
