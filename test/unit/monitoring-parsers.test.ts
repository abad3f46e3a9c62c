// Pure parts of monitoring: the QIDO-RS answer scan, Patient ID in a data set, networks, schedules, XML escaping, syslog framing, signatures.

import t from 'tap';
import { networkOf } from '../../src/alerts/network.js';
import { parseRange, Schedule } from '../../src/alerts/schedule.js';
import { webhookSignature } from '../../src/alerts/webhook-sink.js';
import { syslogFrame } from '../../src/atna/syslog-frame.js';
import { xmlEscape } from '../../src/atna/xml.js';
import { tlsFailureReason } from '../../src/audit/outcome.js';
import { patientIdOf, topLevelStrings } from '../../src/dicom/dataset-patient-id.js';
import { JsonQidoScan, qidoScanFor, XmlQidoScan } from '../../src/http/edge/qido-scan.js';
import { verifySignature } from '../helpers/webhook-receiver.js';

const QIDO = JSON.stringify([
  { '00080020': { vr: 'DA', Value: ['20240101'] }, '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Doe^"Quoted\\"' }] }, '00100020': { vr: 'LO', Value: ['PID-1'] }, '0020000D': { vr: 'UI', Value: ['1.1'] } },
  { '00081030': { vr: 'LO', Value: ['a [bracket] {brace} "quote" \\ "0020000D": "00100020": not keys'] }, '00100020': { vr: 'LO', Value: ['PID-2'] }, '0020000D': { vr: 'UI', Value: ['1.2'] } },
  { '00100020': { vr: 'LO' }, '0020000D': { vr: 'UI', Value: ['1.2.3'] } },
  { '00100020': { vr: 'LO', Value: ['PID-1'] }, '00100021': { vr: 'LO', Value: ['NOT-AN-ID'] }, '0020000D': { vr: 'UI', Value: ['1.4'] } },
], null, 1);

t.test('QIDO-RS JSON scan: results and Patient IDs, however the body is cut', async (t) => {
  const bytes = Buffer.from(QIDO);
  const check = (chunks: Buffer[], label: string): void => {
    const s = new JsonQidoScan();
    for (const c of chunks) s.feed(c);
    s.end();
    t.equal(s.results, 4, `${label}: four results`);
    t.same([...s.patientIds].sort(), ['PID-1', 'PID-2'], `${label}: distinct patient IDs`);
    t.equal(s.unidentified, 1, `${label}: one result without a Patient ID value`);
  };
  check([bytes], 'whole');
  check([...bytes].map((b) => Buffer.from([b])), 'byte by byte');
  for (let cut = 1; cut < bytes.length; cut += 3) check([bytes.subarray(0, cut), bytes.subarray(cut)], `cut at ${cut}`);
  const empty = new JsonQidoScan();
  empty.feed(Buffer.from('[]'));
  empty.end();
  t.equal(empty.results, 0);
  const series = new JsonQidoScan('series');
  series.feed(Buffer.from(JSON.stringify([{ '0020000D': { vr: 'UI', Value: ['1'] }, '0020000E': { vr: 'UI', Value: ['1.1'] } }, { '0020000E': { vr: 'UI', Value: ['1.2'] } }])));
  series.end();
  t.equal(series.results, 2, 'series level: counted by Series Instance UID');
  const instance = new JsonQidoScan('instance');
  instance.feed(Buffer.from('[{"0020000E" : {"vr":"UI"}, "00080018"\t: {"vr":"UI","Value":["1.1.1"]}, "00100020" :{"vr":"LO","Value":[ "P-9" ]}},{"00080018":{"vr":"UI"}}]'));
  instance.end();
  t.equal(instance.results, 2, 'instance level: counted by SOP Instance UID, whitespace before the colon allowed');
  t.same([...instance.patientIds], ['P-9'], 'instance level: the Patient ID read');
  t.ok(qidoScanFor('application/dicom+json; charset=utf-8') instanceof JsonQidoScan);
  t.ok(qidoScanFor('multipart/related; type="application/dicom+xml"; boundary=x') instanceof XmlQidoScan);
  t.equal(qidoScanFor('text/html'), undefined);
  t.equal(qidoScanFor(undefined), undefined);
});

t.test('QIDO-RS XML scan (multipart/related dicom+xml)', async (t) => {
  const part = (id: string): string => `--b\r\nContent-Type: application/dicom+xml\r\n\r\n<?xml version="1.0"?><NativeDicomModel><DicomAttribute tag="00100020" vr="LO" keyword="PatientID"><Value number="1">${id}</Value></DicomAttribute></NativeDicomModel>\r\n`;
  const body = Buffer.from(`${part('X-1')}${part('X-2')}${part('X-1')}--b--`);
  for (const size of [body.length, 100, 7]) {
    const s = new XmlQidoScan();
    for (let i = 0; i < body.length; i += size) s.feed(body.subarray(i, i + size));
    s.end();
    t.equal(s.results, 3, `chunks of ${size}`);
    t.same([...s.patientIds].sort(), ['X-1', 'X-2']);
  }
});

/** A little-endian data set element. */
function el(group: number, element: number, value: Buffer, vr?: string): Buffer {
  const tag = Buffer.alloc(4);
  tag.writeUInt16LE(group, 0);
  tag.writeUInt16LE(element, 2);
  if (vr === undefined) {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(value.length, 0);
    return Buffer.concat([tag, len, value]);
  }
  if (['OB', 'SQ', 'UN', 'UT'].includes(vr)) {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(value.length === 0 ? 0xffffffff : value.length, 0);
    return Buffer.concat([tag, Buffer.from(vr), Buffer.alloc(2), len, value]);
  }
  const len = Buffer.alloc(2);
  len.writeUInt16LE(value.length, 0);
  return Buffer.concat([tag, Buffer.from(vr), len, value]);
}
const str = (s: string): Buffer => Buffer.from(s.length % 2 === 0 ? s : `${s} `, 'latin1');
const delim = (element: number): Buffer => Buffer.concat([Buffer.from([0xfe, 0xff, element & 0xff, element >> 8]), Buffer.alloc(4)]);

t.test('Patient ID from a C-FIND match, implicit and explicit VR, past sequences of undefined length', async (t) => {
  const implicit = Buffer.concat([el(0x0008, 0x0052, str('STUDY')), el(0x0010, 0x0010, str('Doe^J')), el(0x0010, 0x0020, str('PID-7')), el(0x0020, 0x000d, str('1.2.3'))]);
  t.equal(patientIdOf(implicit), 'PID-7');
  const item = Buffer.concat([Buffer.from([0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff, 0xff, 0xff]), el(0x0008, 0x1150, str('1.2'), 'UI'), delim(0xe00d)]);
  const sequence = Buffer.concat([el(0x0008, 0x1110, Buffer.alloc(0), 'SQ'), item, delim(0xe0dd)]);
  const explicit = Buffer.concat([el(0x0008, 0x0052, str('STUDY'), 'CS'), sequence, el(0x0010, 0x0020, str('PID-8'), 'LO'), el(0x0020, 0x000d, str('1.2.9'), 'UI')]);
  t.equal(patientIdOf(explicit), 'PID-8', 'after a sequence of undefined length');
  t.equal(topLevelStrings(explicit, [0x00100020, 0x0020000d]).get(0x0020000d), '1.2.9');
  t.equal(patientIdOf(Buffer.concat([el(0x0008, 0x0052, str('STUDY'), 'CS'), el(0x0010, 0x0020, Buffer.alloc(0), 'LO')])), undefined, 'empty');
  t.equal(patientIdOf(el(0x0020, 0x000d, str('1.2'), 'UI')), undefined, 'absent');
  t.equal(patientIdOf(explicit.subarray(0, 20)), undefined, 'cut short: no answer, no throw');
  for (let n = 0; n < explicit.length; n++) patientIdOf(explicit.subarray(0, n));
  t.pass('every truncation is handled');
});

t.test('networks: IPv4 /24, IPv6 /64, mapped IPv4', async (t) => {
  t.equal(networkOf('10.1.2.3'), '10.1.2.0/24');
  t.equal(networkOf('::ffff:192.0.2.77'), '192.0.2.0/24');
  t.equal(networkOf('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
  t.equal(networkOf('2001:db8::1'), '2001:db8:0:0::/64');
  t.equal(networkOf('::1'), '0:0:0:0::/64');
});

t.test('schedules: day ranges, past midnight, in a time zone', async (t) => {
  t.same([...parseRange('fri-mon 22:00-06:00').days].sort(), [0, 1, 5, 6]);
  const s = new Schedule('Europe/Berlin', { technologist: ['mon-fri 07:00-19:00'], night: ['sun 22:00-06:00'] });
  const berlin = (iso: string): number => Date.parse(iso);
  t.equal(s.outside('technologist', berlin('2024-01-08T06:30:00Z')), false, 'Monday 07:30 in Berlin (UTC+1)');
  t.equal(s.outside('technologist', berlin('2024-01-08T05:30:00Z')), true, 'Monday 06:30 in Berlin');
  t.equal(s.outside('technologist', berlin('2024-07-08T17:30:00Z')), true, 'Monday 19:30 in Berlin summer time (UTC+2)');
  t.equal(s.outside('technologist', berlin('2024-01-13T10:00:00Z')), true, 'Saturday');
  t.equal(s.outside('night', berlin('2024-01-07T22:30:00Z')), false, 'Sunday 23:30');
  t.equal(s.outside('night', berlin('2024-01-08T03:00:00Z')), false, 'Monday 04:00, the morning after');
  t.equal(s.outside('night', berlin('2024-01-09T03:00:00Z')), true, 'Tuesday 04:00');
  t.equal(s.outside('radiologist', berlin('2024-01-13T10:00:00Z')), false, 'a role without a schedule is never off hours');
});

t.test('XML escaping: markup, quotes, controls and broken surrogates', async (t) => {
  t.equal(xmlEscape(`<a href="x">&'</a>`), '&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;');
  t.equal(xmlEscape('line\nbreak\ttab\r'), 'line&#10;break&#9;tab&#13;');
  t.equal(xmlEscape('nul\0bell\x07'), 'nul\ufffdbell\ufffd');
  t.equal(xmlEscape('lone \ud800 surrogate, pair \ud83d\ude00'), 'lone \ufffd surrogate, pair \ud83d\ude00');
});

t.test('RFC 5425 frame: octet count of the RFC 5424 message', async (t) => {
  const f = syslogFrame('<AuditMessage>ä</AuditMessage>', { at: Date.parse('2024-01-02T03:04:05.006Z'), hostname: 'gw host', appName: 'pacs-gateway', procId: '42' });
  const text = f.toString('utf8');
  const space = text.indexOf(' ');
  const msg = f.subarray(Buffer.byteLength(text.slice(0, space)) + 1);
  t.equal(Number(text.slice(0, space)), msg.length, 'MSG-LEN counts octets, not characters');
  t.equal(msg.toString('utf8'), '<85>1 2024-01-02T03:04:05.006Z gwhost pacs-gateway 42 IHE+RFC-3881 - \ufeff<AuditMessage>ä</AuditMessage>');
});

t.test('webhook signature: what the README tells a receiver to check', async (t) => {
  const body = '{"alert":{"name":"anomaly"}}';
  const header = webhookSignature('s3cret-s3cret-s3cret', 1_700_000_000, body);
  t.match(header, /^t=1700000000,v1=[0-9a-f]{64}$/);
  t.ok(verifySignature('s3cret-s3cret-s3cret', header, body));
  t.notOk(verifySignature('s3cret-s3cret-s3cret', header, `${body} `), 'a changed body fails');
  t.notOk(verifySignature('another-secret-000000', header, body), 'another secret fails');
});

t.test('TLS failure reasons come from a fixed set', async (t) => {
  t.equal(tlsFailureReason(Object.assign(new Error('x'), { code: 'ERR_TLS_HANDSHAKE_TIMEOUT' })), 'timeout');
  t.equal(tlsFailureReason(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })), 'reset');
  t.equal(tlsFailureReason(new Error('ssl3_get_record:wrong version number')), 'not-tls');
  t.equal(tlsFailureReason(new Error('unsupported protocol version')), 'protocol-version');
  t.equal(tlsFailureReason(new Error('no shared cipher')), 'cipher');
  t.equal(tlsFailureReason(new Error('something else')), 'other');
});
