// Client → PACS P-DATA filter: reassembles and decides each command, streams or drops its data fragments.

import { AbortReason, CommandField, MessageControl, NO_DATA_SET } from './constants.js';
import type { CommandDecision } from './command-guard.js';
import { decodeCommandSet, type CommandSet } from './command-set.js';
import { buildPData, pDataHeader } from './p-data.js';
import { PduError } from './pdu-error.js';
import { traffic } from '../audit/traffic.js';
import type { PdvHeader } from './pdu-reader.js';

export interface RequestFilterOptions {
  /** Largest command set accepted (sum of its fragments). */
  readonly maxCommandBytes: number;
  /** Accepted presentation contexts: ID → abstract syntax. */
  readonly contexts: ReadonlyMap<number, string>;
  /** Largest fragment the client can receive in one PDV (its maximum PDU length − 6). */
  readonly clientMaxFragment: number;
  /** The policy decision for one command (may throw PduError to abort). */
  decide(cmd: CommandSet, abstractSyntax: string, pcId: number): CommandDecision;
}

interface PendingCommand {
  readonly pcId: number;
  readonly fragments: Buffer[];
  current: Buffer[];
  size: number;
}

interface Message {
  readonly pcId: number;
  readonly forward: boolean;
  /** The response to send once the (dropped) data set has been consumed. */
  readonly response: Buffer | undefined;
  /** A forwarded C-FIND/C-GET/C-MOVE's identifier, copied for the tracker (at most MAX_QUERY_BYTES). */
  readonly query?: { readonly messageId: number; readonly chunks: Buffer[]; size: number };
}

/** What is told about forwarded requests (the response relay, when it reports outcomes). */
export interface RequestTracker {
  forwarded(cmd: CommandSet): void;
  identifier(messageId: number, query: Buffer): void;
}

/** Requests whose identifier is copied for the tracker: C-FIND (the query), C-GET and C-MOVE (what is retrieved). */
const QUERIED: ReadonlySet<number> = new Set([CommandField.CFindRq, CommandField.CGetRq, CommandField.CMoveRq]);

/** Largest C-FIND identifier copied for the outcome report (the ATNA Query message). */
const MAX_QUERY_BYTES = 64 * 1024;

/**
 * Handles the P-DATA events of the client's PDU reader. Forwarded PDVs are re-framed one PDV per
 * P-DATA-TF PDU (allowed by PS3.8 §9.3.5, and never larger than what the client sent), so a
 * refused command and its data set can be cut out without buffering: data fragments are passed
 * on as the slices they arrived in. Output accumulates in `toUpstream` / `toClient`; the caller
 * drains both after each chunk.
 */
export class RequestFilter {
  readonly toUpstream: Buffer[] = [];
  readonly toClient: Buffer[] = [];
  /**
   * Set when a message part (an allowed command, or the last fragment of a forwarded data set)
   * has been queued whole: the caller writes it at once rather than at the end of the I/O phase,
   * since the PACS cannot answer before it has it. The caller resets it.
   */
  partEnded = false;
  /** Told about every forwarded request (set by GuardedPipe when outcomes are reported). */
  tracker: RequestTracker | undefined;
  readonly #o: RequestFilterOptions;
  /** The command being reassembled: complete PDV fragments, the current one's pieces (copies). */
  #command: PendingCommand | undefined;
  /** The message whose data set is expected next. */
  #message: Message | undefined;
  /** What is done with the current PDV's fragment (undefined between PDVs). */
  #mode: 'collect' | 'forward' | 'drop' | undefined;

  constructor(options: RequestFilterOptions) {
    this.#o = options;
  }

  /** True when no command or data set is part-way through. */
  get idle(): boolean { return this.#command === undefined && this.#message === undefined; }

  onPDataStart(): void { /* re-framed per PDV */ }
  onPDataEnd(): void { /* re-framed per PDV */ }

  onPdv(h: PdvHeader): void {
    // PS3.8 §9.3.5.1: the context ID must name an accepted presentation context.
    if (!this.#o.contexts.has(h.pcId)) throw new PduError(`PDV uses presentation context ${h.pcId}, which was not accepted`);
    if (h.isCommand) {
      if (this.#message !== undefined) throw new PduError('a command PDV arrived before the previous data set ended', AbortReason.UnexpectedPduParameter);
      const c = this.#command ?? { pcId: h.pcId, fragments: [], current: [], size: 0 };
      if (c.pcId !== h.pcId) throw new PduError('command fragments switched presentation context', AbortReason.UnexpectedPduParameter);
      // Bounded before any byte of the fragment is stored.
      if (c.size + h.fragmentLength > this.#o.maxCommandBytes) {
        throw new PduError(`command set exceeds the limit of ${this.#o.maxCommandBytes} bytes`);
      }
      this.#command = c;
      this.#mode = 'collect';
      return;
    }
    if (this.#command !== undefined) throw new PduError('a data PDV arrived before the command set ended', AbortReason.UnexpectedPduParameter);
    const m = this.#message;
    if (m === undefined) throw new PduError('a data PDV arrived without a command that announced a data set', AbortReason.UnexpectedPduParameter);
    // PS3.7 §6.3.1 / PS3.8 Annex E: a message's command and data set share one presentation context.
    if (m.pcId !== h.pcId) throw new PduError('data set PDV on a different presentation context than its command', AbortReason.UnexpectedPduParameter);
    this.#mode = m.forward ? 'forward' : 'drop';
    if (m.forward) this.toUpstream.push(pDataHeader(h.pcId, h.control, h.fragmentLength));
  }

  onFragment(data: Buffer): void {
    const mode = this.#mode;
    if (mode === 'forward') {
      this.toUpstream.push(data);
      traffic.dicomToPacs += data.length;
      const q = this.#message?.query;
      if (q !== undefined && (q.size += data.length) <= MAX_QUERY_BYTES) q.chunks.push(Buffer.from(data));
    } else if (mode === 'collect' && this.#command !== undefined) {
      this.#command.current.push(Buffer.from(data));
      this.#command.size += data.length;
    }
  }

  onPdvEnd(h: PdvHeader): void {
    const mode = this.#mode;
    this.#mode = undefined;
    if (mode === 'collect' && this.#command !== undefined) {
      const c = this.#command;
      c.fragments.push(Buffer.concat(c.current));
      c.current = [];
      if (h.isLast) this.#finishCommand(c);
      return;
    }
    if (h.isLast) {
      if (mode === 'forward') this.partEnded = true;
      const q = this.#message?.query;
      if (q !== undefined && q.size <= MAX_QUERY_BYTES) this.tracker?.identifier(q.messageId, Buffer.concat(q.chunks, q.size));
      const response = this.#message?.response;
      this.#message = undefined;
      if (response !== undefined) this.toClient.push(response);
    }
  }

  #finishCommand(c: PendingCommand): void {
    this.#command = undefined;
    const cmd = decodeCommandSet(Buffer.concat(c.fragments, c.size));
    const decision = this.#o.decide(cmd, this.#o.contexts.get(c.pcId) as string, c.pcId);
    const hasData = cmd.dataSetType !== NO_DATA_SET;
    if (decision.kind === 'refuse') {
      const response = buildPData(c.pcId, true, decision.response, this.#o.clientMaxFragment);
      if (hasData) this.#message = { pcId: c.pcId, forward: false, response };
      else this.toClient.push(response);
      return;
    }
    // Allowed: the command goes on in its original fragments (each already within the PACS's limit).
    c.fragments.forEach((fragment, i) => {
      const control = MessageControl.Command | (i === c.fragments.length - 1 ? MessageControl.Last : 0);
      this.toUpstream.push(pDataHeader(c.pcId, control, fragment.length), fragment);
    });
    const tracker = this.tracker;
    if (tracker !== undefined && !cmd.isResponse && decision.kind === 'allow') tracker.forwarded(cmd);
    if (hasData) {
      const query = tracker !== undefined && QUERIED.has(cmd.commandField) && cmd.messageId !== undefined ? { messageId: cmd.messageId, chunks: [], size: 0 } : undefined;
      this.#message = { pcId: c.pcId, forward: true, response: undefined, ...(query === undefined ? {} : { query }) };
    }
    this.partEnded = true;
  }
}
