// The DIMSE credential lifetime attacks (dimse-credential-lifetime.ts) on the redis state store.

import { attackCredentialLifetime } from './dimse-credential-lifetime.js';

await attackCredentialLifetime('redis');
