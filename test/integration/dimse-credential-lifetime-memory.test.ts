// The DIMSE credential lifetime attacks (dimse-credential-lifetime.ts) on the memory state store.

import { attackCredentialLifetime } from './dimse-credential-lifetime.js';

await attackCredentialLifetime('memory');
