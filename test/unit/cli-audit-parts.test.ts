// The pure parts of the CLI's audit: the reason a refusal is recorded with, and the Security Alert of an admin change.

import t from 'tap';
import { adminChangeMessage } from '../../src/atna/admin-messages.js';
import type { AuditSource } from '../../src/atna/messages.js';
import { GatewayError } from '../../src/errors.js';
import { refusalReason } from '../../src/cli/refusal-reason.js';
import { kids, parseXml } from '../helpers/xml.js';

const src: AuditSource = { id: 'gw-1', hostname: 'gw-host', pid: 4242, pacsAeTitle: 'PACS', pacsHost: '10.0.0.9', pacsDicomweb: 'http://10.0.0.9:8042/dicom-web' };

t.test('refusalReason: the code as a word; usage errors are not refusals; never the message', async (t) => {
  t.equal(refusalReason(new GatewayError('ERR_USER_EXISTS', 'user "alice" already exists')), 'user-exists');
  t.equal(refusalReason(new GatewayError('ERR_LOCAL_LOGIN_DISABLED', 'x')), 'local-login-disabled');
  t.equal(refusalReason(new GatewayError('ERR_USAGE', 'users add needs --role')), undefined);
  t.equal(refusalReason(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })), 'econnrefused');
  t.equal(refusalReason(new Error('secret-looking message')), 'failed');
  t.equal(refusalReason({ code: 'not a <code>' }), 'failed', 'a code that is not a code word');
  t.equal(refusalReason(undefined), 'failed');
});

t.test('adminChangeMessage: Security Alert, type by command, the person and the process, the subject', async (t) => {
  const user = parseXml(adminChangeMessage(src, { command: 'users disable', osUser: 'root', refused: false, reason: 'user-disabled', username: 'alice', detail: { event: 'auth.account' } }, Date.UTC(2026, 11, 7)));
  const ev = kids(user, 'EventIdentification')[0];
  t.match(ev?.attrs, { EventActionCode: 'E', EventDateTime: '2026-12-07T00:00:00.000Z', EventOutcomeIndicator: '0' });
  t.same(kids(ev!, 'EventID').map((c) => c.attrs['csd-code']), ['110113']);
  t.same(kids(ev!, 'EventTypeCode').map((c) => c.attrs['csd-code']), ['110137']);
  t.same(kids(user, 'ActiveParticipant').map((p) => [p.attrs['UserID'], p.attrs['UserIsRequestor']]), [['root', 'true'], ['gw-1', 'false']]);
  t.match(kids(user, 'ParticipantObjectIdentification')[0]?.attrs, { ParticipantObjectID: 'alice', ParticipantObjectTypeCode: '1', ParticipantObjectTypeCodeRole: '11' });

  const refused = parseXml(adminChangeMessage(src, { command: 'certs init', osUser: undefined, refused: true, reason: 'ca-exists', detail: {} }, 0));
  const rev = kids(refused, 'EventIdentification')[0];
  t.equal(rev?.attrs['EventOutcomeIndicator'], '4');
  t.same(kids(rev!, 'EventTypeCode').map((c) => c.attrs['csd-code']), ['110129']);
  t.equal(kids(rev!, 'EventOutcomeDescription')[0]?.text, 'certs init: refused: ca-exists');
  t.equal(kids(refused, 'ActiveParticipant')[0]?.attrs['UserID'], 'cli', 'no OS user name: cli');
  t.match(kids(refused, 'ParticipantObjectIdentification')[0]?.attrs, { ParticipantObjectID: 'gw-1', ParticipantObjectTypeCodeRole: '13' }, 'nothing named: the gateway node itself');

  const odd = adminChangeMessage(src, { command: 'certs revoke', osUser: 'a"<b>', refused: false, reason: 'x', serials: [{ serial: '0a1b', name: 'ws<1>&' }], detail: { device: 'ws<1>&' } }, 0);
  const doc = parseXml(odd);
  t.equal(kids(doc, 'ActiveParticipant')[0]?.attrs['UserID'], 'a"<b>', 'escaped and read back');
  t.equal(kids(kids(doc, 'ParticipantObjectIdentification')[0]!, 'ParticipantObjectName')[0]?.text, 'ws<1>&');
});
