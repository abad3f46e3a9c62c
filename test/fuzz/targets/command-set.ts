// DIMSE command set decoder: PduError only; the elements re-encode to exactly the input; the gateway's failure response decodes.

import { buildFailureResponse, canRespond } from '../../../src/dicom/command-build.js';
import { decodeCommandSet } from '../../../src/dicom/command-set.js';
import { CommandTag, RESPONSE_BIT } from '../../../src/dicom/constants.js';
import { must, withAllocationCap, type FuzzTarget } from '../engine/target.js';
import fc from 'fast-check';
import { COMMAND_DICTIONARY, ECHO_COMMAND, MOVE_COMMAND, STORE_COMMAND, command } from './dicom-seeds.js';

function encode(elements: ReadonlyMap<number, Buffer>): Buffer {
  const parts: Buffer[] = [];
  for (const [element, value] of elements) {
    const head = Buffer.alloc(8);
    head.writeUInt16LE(element, 2);
    head.writeUInt32LE(value.length, 4);
    parts.push(head, value);
  }
  return Buffer.concat(parts);
}

export const commandSetTarget: FuzzTarget = {
  name: 'command-set',
  about: 'src/dicom/command-set.ts: a reassembled command set; PduError only; its elements re-encode to the input byte for byte (nothing skipped or reordered); the failure response the gateway would send decodes as the matching response; no allocation beyond the input',
  files: ['src/dicom/command-set', 'src/dicom/command-build', 'src/dicom/byte-reader'],
  maxLength: 2048,
  dictionary: COMMAND_DICTIONARY,
  seeds: () => [ECHO_COMMAND(), STORE_COMMAND(), MOVE_COMMAND()],
  generate: fc.record({
    field: fc.constantFrom(0x01, 0x10, 0x20, 0x21, 0x30, 0x100, 0x110, 0x120, 0x130, 0x140, 0x150, 0xfff, 0x8001, 0x8030),
    id: fc.integer({ min: 0, max: 0xffff }), dataSet: fc.constantFrom(0x0101, 0x0000, 0x0102),
    sop: fc.option(fc.stringMatching(/^[0-9.]{1,64}$/), { nil: undefined }), dest: fc.option(fc.stringMatching(/^[ -~]{0,16}$/), { nil: undefined }),
  }).map((r) => command([
    [CommandTag.CommandField, { us: r.field }], [CommandTag.MessageId, { us: r.id }], [CommandTag.CommandDataSetType, { us: r.dataSet }],
    ...(r.sop === undefined ? [] : [[CommandTag.AffectedSopClassUid, { ui: r.sop }] as const]),
    ...(r.dest === undefined ? [] : [[CommandTag.MoveDestination, { text: r.dest }] as const]),
  ])),
  run(input) {
    const cmd = withAllocationCap(() => decodeCommandSet(input), Math.max(64, input.length), 'command set decoder');
    must(encode(cmd.elements).equals(input), 'the decoded elements do not re-encode to the command set as received');
    must(cmd.isResponse === ((cmd.commandField & RESPONSE_BIT) !== 0), 'isResponse disagrees with the command field');
    if (canRespond(cmd)) {
      const rsp = decodeCommandSet(buildFailureResponse(cmd, { comment: 'refused by fuzz' }));
      must(rsp.isResponse && rsp.commandField === (cmd.commandField | RESPONSE_BIT), 'the failure response is not the matching response');
      must(rsp.messageIdBeingRespondedTo === cmd.messageId, 'the failure response answers another message');
      must(rsp.status === 0x0124 && rsp.dataSetType === 0x0101, 'the failure response is not a refusal without a data set');
    }
  },
};
