// The C-MOVEs the DIMSE guard forwarded, so that the relay can tie the PACS's sub-operations to who asked for them.

import type { Audit, AuditEvent } from '../audit/audit.js';
import type { Outcome } from '../audit/outcome.js';
import type { Clock } from '../util/clock.js';

/** A C-MOVE the gateway allowed and forwarded to the PACS (from its dicom.command audit event). */
export interface ForwardedMove {
  readonly principal: string | undefined;
  readonly role: string | undefined;
  readonly source: string | undefined;
  readonly associationId: string | undefined;
  readonly callingAe: string;
  readonly messageId: number;
  readonly moveDestination: string;
  readonly at: number;
  /** When the PACS's final C-MOVE-RSP was relayed (its sub-operations are over); undefined while it runs. */
  finishedAt?: number;
}

/** What a match found: the move, and whether another one still running had the same originator AE and message ID. */
export interface MoveMatch {
  readonly move: ForwardedMove;
  readonly ambiguous: boolean;
}

/** Moves remembered at once; the oldest goes first. */
const MAX_MOVES = 4096;
/** How long a move is matched after it was forwarded. */
const MAX_AGE_MS = 6 * 3_600_000;

const key = (ae: string, id: number): string => `${ae}\u0000${id}`;

/**
 * Listens to the audit trail for allowed C-MOVE-RQs and matches them by Move Originator AE Title
 * and Move Originator Message ID (0000,1030 / 0000,1031, PS3.7 §9.3.1.1), which the PACS copies
 * into each C-STORE sub-operation, and by the move destination. Only moves that went through this
 * gateway process are known (another replica's are not).
 */
export class MoveRegistry {
  readonly #moves = new Map<string, ForwardedMove[]>();
  readonly #clock: Clock;
  #count = 0;
  readonly #unsubscribe: () => void;

  constructor(audit: Audit, clock: Clock) {
    this.#clock = clock;
    // Outcomes tell when a move has ended, so that a client reusing message IDs (each association
    // starts again at 1) is not taken for two moves at once.
    this.#unsubscribe = audit.subscribe({ event: (e, at) => this.#onEvent(e, at), outcome: (o, at) => this.#onOutcome(o, at) });
  }

  close(): void { this.#unsubscribe(); }

  #onEvent(e: AuditEvent, at: number): void {
    if (e.event !== 'dicom.command' || e.decision !== 'allow' || e['command'] !== 'C-MOVE-RQ') return;
    const callingAe = e['callingAe'];
    const messageId = e['messageId'];
    const moveDestination = e['moveDestination'];
    if (typeof callingAe !== 'string' || typeof messageId !== 'number' || typeof moveDestination !== 'string') return;
    const move: ForwardedMove = {
      principal: e.principal, role: e.role, source: e.source, associationId: e['associationId'] as string | undefined,
      callingAe, messageId, moveDestination, at,
    };
    const k = key(callingAe, messageId);
    const list = this.#moves.get(k) ?? [];
    // Re-inserted so that the map's order is the order of the latest move per key.
    this.#moves.delete(k);
    this.#moves.set(k, [...list, move]);
    this.#count++;
    while (this.#count > MAX_MOVES) this.#dropOldest();
  }

  #onOutcome(o: Outcome, at: number): void {
    if (o.kind !== 'dicom' || o.command !== 'C-MOVE' || o.status === 0xff00 || o.status === 0xff01 || o.callingAe === undefined) return;
    for (const m of this.#moves.get(key(o.callingAe, o.messageId)) ?? []) {
      if (m.associationId === o.associationId && m.finishedAt === undefined) m.finishedAt = at;
    }
  }

  #dropOldest(): void {
    const first = this.#moves.entries().next();
    if (first.done === true) { this.#count = 0; return; }
    const [k, list] = first.value;
    list.shift();
    this.#count--;
    if (list.length === 0) this.#moves.delete(k);
  }

  /** The forwarded C-MOVE a sub-operation belongs to, if it went through this gateway. */
  match(originatorAe: string, originatorMessageId: number, destinationAe: string): MoveMatch | undefined {
    const now = this.#clock();
    const live = (this.#moves.get(key(originatorAe, originatorMessageId)) ?? [])
      .filter((m) => m.moveDestination === destinationAe && now - m.at <= MAX_AGE_MS);
    // A move still running is the one whose sub-operations these are; two running at once are ambiguous.
    const running = live.filter((m) => m.finishedAt === undefined);
    const move = running.at(-1) ?? live.at(-1);
    if (move === undefined) return undefined;
    return { move, ambiguous: running.some((m) => m.associationId !== move.associationId) };
  }
}
