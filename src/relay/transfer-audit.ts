// The export record of one relayed association: which instances left for which destination, and for whose C-MOVE.

import type { Audit } from '../audit/audit.js';
import type { CommandSet } from '../dicom/command-set.js';
import { CommandField } from '../dicom/constants.js';
import type { RelayedResult } from '../dicom/response-relay.js';
import type { MoveMatch, MoveRegistry } from './move-registry.js';

/** (0000,1030) Move Originator Application Entity Title, (0000,1031) Move Originator Message ID: PS3.7 Table 9.3-1. */
const MOVE_ORIGINATOR_AE = 0x1030;
const MOVE_ORIGINATOR_ID = 0x1031;
/** Instance UIDs listed per event; the counts stay exact beyond it. */
const MAX_LISTED = 1000;
/** C-STORE requests awaiting their response at once (the PACS cannot have more outstanding than it negotiated). */
const MAX_PENDING = 4096;

/** The association the transfers happen on. */
export interface TransferFacts {
  readonly associationId: string;
  /** The PACS's address and calling AE title. */
  readonly source: string;
  readonly callingAe: string;
  readonly destinationAe: string;
  readonly destinationHost: string;
  readonly destinationPort: number;
}

interface Group {
  readonly originatorAe: string | undefined;
  readonly originatorMessageId: number | undefined;
  readonly match: MoveMatch | undefined;
  readonly instances: string[];
  /** SOP Class UID → the listed instances of that class. */
  readonly sopClasses: Record<string, string[]>;
  sent: number;
  completed: number;
  warning: number;
  failed: number;
}

function latin1Trimmed(v: Buffer | undefined): string | undefined {
  if (v === undefined) return undefined;
  const s = v.toString('latin1').replace(/[\0 ]+$/, '').replace(/^ +/, '');
  return s === '' ? undefined : s;
}

/**
 * Collects, per move originator (AE title + message ID), the C-STORE requests forwarded to the
 * destination and the destination's answers, and writes one `relay.transfer` audit event per
 * group when the association ends: the DICOM "Instances Transferred" of an export (PS3.15
 * A.5.3.5), with the C-MOVE the gateway forwarded when the registry can match it.
 */
export class TransferAudit {
  readonly #facts: TransferFacts;
  readonly #audit: Audit;
  readonly #moves: MoveRegistry;
  readonly #groups = new Map<string, Group>();
  /** Message ID of a forwarded C-STORE-RQ → its group. */
  readonly #pending = new Map<number, Group>();
  #done = false;

  constructor(facts: TransferFacts, audit: Audit, moves: MoveRegistry) {
    this.#facts = facts;
    this.#audit = audit;
    this.#moves = moves;
  }

  /** A C-STORE-RQ was forwarded to the destination. */
  stored(cmd: CommandSet): void {
    if (cmd.commandField !== CommandField.CStoreRq || cmd.messageId === undefined) return;
    const ae = latin1Trimmed(cmd.elements.get(MOVE_ORIGINATOR_AE));
    const idBytes = cmd.elements.get(MOVE_ORIGINATOR_ID);
    const id = idBytes?.length === 2 ? idBytes.readUInt16LE(0) : undefined;
    const k = `${ae ?? ''}\u0000${id ?? ''}`;
    let g = this.#groups.get(k);
    if (g === undefined) {
      const match = ae === undefined || id === undefined ? undefined : this.#moves.match(ae, id, this.#facts.destinationAe);
      g = { originatorAe: ae, originatorMessageId: id, match, instances: [], sopClasses: {}, sent: 0, completed: 0, warning: 0, failed: 0 };
      this.#groups.set(k, g);
    }
    g.sent++;
    if (cmd.affectedSopInstanceUid !== undefined && g.instances.length < MAX_LISTED) {
      g.instances.push(cmd.affectedSopInstanceUid);
      const sopClass = cmd.affectedSopClassUid ?? '';
      (g.sopClasses[sopClass] ??= []).push(cmd.affectedSopInstanceUid);
    }
    if (this.#pending.size < MAX_PENDING) this.#pending.set(cmd.messageId, g);
  }

  /** The destination's final response to a forwarded request (ResponseRelay's report). */
  answered(r: RelayedResult): void {
    if (r.command !== 'C-STORE') return;
    const g = this.#pending.get(r.messageId);
    if (g === undefined) return;
    this.#pending.delete(r.messageId);
    // PS3.7 Annex C / B.2.3: 0x0000 success, 0xB000–0xBFFF warnings (stored), anything else failed.
    if (r.status === 0) g.completed++;
    else if (r.status >= 0xb000 && r.status <= 0xbfff) g.warning++;
    else g.failed++;
  }

  /** Writes the events (once); `ended` says how the association ended (released, aborted, closed). */
  finish(ended: string): void {
    if (this.#done) return;
    this.#done = true;
    const f = this.#facts;
    for (const g of this.#groups.values()) {
      const move = g.match?.move;
      this.#audit.record({
        event: 'relay.transfer', decision: 'allow', reason: 'export',
        principal: move?.principal, role: move?.role,
        source: f.source, associationId: f.associationId, callingAe: f.callingAe,
        destinationAe: f.destinationAe, destinationHost: f.destinationHost, destinationPort: f.destinationPort,
        instances: g.instances, sopClasses: g.sopClasses, sent: g.sent, completed: g.completed, warning: g.warning, failed: g.failed,
        unanswered: g.sent - g.completed - g.warning - g.failed, ended,
        moveOriginatorAe: g.originatorAe, moveOriginatorMessageId: g.originatorMessageId,
        move: move === undefined ? undefined : {
          principal: move.principal, source: move.source, associationId: move.associationId, callingAe: move.callingAe, messageId: move.messageId,
          ...(g.match?.ambiguous === true ? { ambiguous: true } : {}),
        },
      });
    }
  }
}
