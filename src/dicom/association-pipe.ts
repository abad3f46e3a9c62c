// The guarded relay of an established association: the request filter (command guard) and the response relay.

import type { Socket } from 'node:net';
import type { Logger } from '../audit/logger.js';
import type { Principal } from '../identity/principal.js';
import type { AssociateRq } from './associate-parse.js';
import { auditCommand, type ConnectionFacts } from './association-audit.js';
import type { AssociationDeps } from './association-deps.js';
import { decideCommand } from './command-guard.js';
import { PDV_HEADER_BYTES } from './constants.js';
import { GuardedPipe } from './guarded-pipe.js';
import { capPdu } from './negotiation.js';
import { RequestFilter } from './request-filter.js';
import { ResponseRelay } from './response-relay.js';
import { resultReporter } from './result-report.js';

export interface PipeContext {
  readonly deps: AssociationDeps;
  readonly facts: ConnectionFacts;
  readonly log: Logger;
  readonly principal: Principal;
  /** Read per command: false once the principal failed a re-check (association-revalidation.ts). */
  readonly principalValid: () => boolean;
}

/** The pipe between `client` and `upstream` for the accepted presentation `contexts` (ID → abstract syntax). */
export function guardedPipe(client: Socket, upstream: Socket, rq: AssociateRq, contexts: ReadonlyMap<number, string>, c: PipeContext): GuardedPipe {
  const { deps, facts, log, principal } = c;
  const { dicom } = deps.config;
  const filter = new RequestFilter({
    maxCommandBytes: dicom.maxCommandBytes, contexts,
    clientMaxFragment: capPdu(rq.maxPduLength, dicom.maxPduBytes) - PDV_HEADER_BYTES,
    decide: (cmd, abstractSyntax) => {
      // Roles are read per command: a reloaded role table applies to open associations too.
      const d = decideCommand(cmd, { roles: deps.config.roles, principal, principalValid: c.principalValid(), abstractSyntax });
      if (d.kind !== 'pass' || d.reason === 'cancel') auditCommand(deps.audit, facts, principal, cmd, d);
      else log.debug({ command: d.name }, 'response from client passed');
      return d;
    },
  });
  return new GuardedPipe(client, upstream, filter, new ResponseRelay(Math.max(dicom.maxCommandBytes, 65536), resultReporter(deps.audit, facts, principal)));
}
