// The gateway's command line, run from the bench's own build (dist-bench/src): `npm run bench` never rewrites dist/.

import { main } from '../src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
