// The DIMSE command guard: maps each request to the policy vocabulary and decides it against the caller's role.

import type { RoleRules } from '../config/types.js';
import type { Principal } from '../identity/principal.js';
import type { Action } from '../policy/actions.js';
import { authorize } from '../policy/authorize.js';
import { buildFailureResponse } from './command-build.js';
import { commandName, type CommandSet } from './command-set.js';
import { AbortReason, CommandField } from './constants.js';
import { PduError } from './pdu-error.js';

/** Request command field → action (DESIGN.md "one policy vocabulary"). */
export const COMMAND_ACTIONS: Readonly<Record<number, Action>> = Object.freeze({
  [CommandField.CEchoRq]: 'echo',
  [CommandField.CFindRq]: 'search',
  [CommandField.CGetRq]: 'retrieve',
  [CommandField.CMoveRq]: 'move',
  [CommandField.CStoreRq]: 'store',
  [CommandField.NEventReportRq]: 'n-services',
  [CommandField.NGetRq]: 'n-services',
  [CommandField.NSetRq]: 'n-services',
  [CommandField.NActionRq]: 'n-services',
  [CommandField.NCreateRq]: 'n-services',
  [CommandField.NDeleteRq]: 'n-services',
});

export interface GuardInput {
  readonly roles: Readonly<Record<string, RoleRules>>;
  readonly principal: Principal;
  /** False once a re-check found the principal disabled or revoked. */
  readonly principalValid: boolean;
  /** Abstract syntax negotiated for the presentation context the command arrived on. */
  readonly abstractSyntax: string;
}

export type CommandDecision =
  /** Forwarded without a policy decision: responses to the PACS's own requests (C-GET sub-operations, N-EVENT-REPORT) and C-CANCEL. */
  | { readonly kind: 'pass'; readonly name: string; readonly reason: 'response' | 'cancel' }
  | { readonly kind: 'allow'; readonly name: string; readonly action: Action; readonly reason: string }
  /** Not forwarded: `response` is the command set to send back to the client instead. */
  | { readonly kind: 'refuse'; readonly name: string; readonly action: Action; readonly reason: string; readonly response: Buffer };

function refuse(cmd: CommandSet, name: string, action: Action, reason: string): CommandDecision {
  return { kind: 'refuse', name, action, reason, response: buildFailureResponse(cmd, { comment: `Refused by gateway: ${reason}` }) };
}

/**
 * Decides one command from the client. Throws PduError for a request the gateway cannot
 * answer in DIMSE terms (unknown command field, no Message ID): the caller aborts.
 */
export function decideCommand(cmd: CommandSet, input: GuardInput): CommandDecision {
  const name = commandName(cmd.commandField);
  if (cmd.isResponse) return { kind: 'pass', name, reason: 'response' };
  if (cmd.commandField === CommandField.CCancelRq) return { kind: 'pass', name, reason: 'cancel' };
  const action = COMMAND_ACTIONS[cmd.commandField];
  if (action === undefined) throw new PduError(`unrecognized DIMSE command field 0x${cmd.commandField.toString(16)}`, AbortReason.UnrecognizedPduParameter);
  if (cmd.messageId === undefined) throw new PduError(`${name} has no Message ID (0000,0110)`);
  if (!input.principalValid) return refuse(cmd, name, action, 'principal-no-longer-valid');
  const sopClass = action === 'n-services' ? cmd.requestedSopClassUid ?? cmd.affectedSopClassUid : cmd.affectedSopClassUid;
  // PS3.7 §9.1: a C-service's SOP class is the abstract syntax of its presentation context; a
  // mismatch would let a client be authorised for one SOP class while the PACS acts on another.
  if (action !== 'n-services' && sopClass !== input.abstractSyntax) return refuse(cmd, name, action, 'sop-class-mismatch');
  const decision = authorize(input.roles, input.principal, {
    action,
    ...(cmd.moveDestination === undefined ? {} : { moveDestination: cmd.moveDestination }),
    ...(action === 'store' && sopClass !== undefined ? { sopClassUid: sopClass } : {}),
  });
  return decision.allowed ? { kind: 'allow', name, action, reason: decision.reason } : refuse(cmd, name, action, decision.reason);
}
