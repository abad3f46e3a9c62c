// What the relay lets the PACS send to a remote AE: C-STORE and C-ECHO only; anything else is answered 0x0124.

import { buildFailureResponse, canRespond } from '../dicom/command-build.js';
import { COMMAND_ACTIONS, type CommandDecision } from '../dicom/command-guard.js';
import { commandName, type CommandSet } from '../dicom/command-set.js';
import { AbortReason, CommandField } from '../dicom/constants.js';
import { PduError } from '../dicom/pdu-error.js';

/** Requests that may leave the hospital through the relay (issue 16 §1). */
const OUTBOUND: ReadonlySet<number> = new Set([CommandField.CStoreRq, CommandField.CEchoRq]);

/**
 * Decides one command the PACS sent on a relayed association. Responses (to requests of the
 * remote AE) pass. A request other than C-STORE / C-ECHO gets a failure response with status
 * 0x0124 (PS3.7 C.5) and never reaches the destination; one that has no response the gateway can
 * build (C-CANCEL, an unknown command field, no Message ID) throws PduError: the caller aborts.
 */
export function decideOutbound(cmd: CommandSet, abstractSyntax: string): CommandDecision {
  const name = commandName(cmd.commandField);
  if (cmd.isResponse) return { kind: 'pass', name, reason: 'response' };
  const action = COMMAND_ACTIONS[cmd.commandField];
  if (action === undefined || !canRespond(cmd)) {
    throw new PduError(`${name} cannot be relayed to a remote AE and has no response to refuse it with`, AbortReason.UnexpectedPduParameter);
  }
  const refuse = (reason: string): CommandDecision => ({
    kind: 'refuse', name, action, reason, response: buildFailureResponse(cmd, { comment: `Refused by gateway relay: ${reason}` }),
  });
  if (!OUTBOUND.has(cmd.commandField)) return refuse('only-store-and-echo-outbound');
  // PS3.7 §9.1: the SOP class of a C-service is its presentation context's abstract syntax.
  if (cmd.affectedSopClassUid !== abstractSyntax) return refuse('sop-class-mismatch');
  return { kind: 'allow', name, action, reason: 'relay-outbound' };
}
