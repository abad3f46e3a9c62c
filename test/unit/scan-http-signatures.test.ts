// The HTTP probe against what dcm4chee-arc and Orthanc Explorer 2 send (their UI pages' titles as in
// their own index.html, their REST answers' shapes), open and behind a login. Neither product is
// installable here; these HTTP peers answer the probe's paths the way the products do.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import t, { type Test } from 'tap';
import { listenOnLoopback, probeLoopback } from '../helpers/scan.js';

type Routes = Readonly<Record<string, (res: ServerResponse) => void>>;

function site(t: Test, routes: Routes): Promise<number> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const route = routes[req.url ?? ''];
    if (route === undefined) res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
    else route(res);
  });
  return listenOnLoopback(t, server);
}

const probe = (port: number) => probeLoopback(port);

const json = (body: unknown) => (res: ServerResponse) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
const html = (title: string) => (res: ServerResponse) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
  .end(`<!doctype html>\n<html>\n<head>\n  <meta charset="utf-8">\n  <title>${title}</title>\n</head>\n<body><app-root></app-root></body>\n</html>\n`);
const bearer = (realm: string) => (res: ServerResponse) => res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm}"` }).end();

// dcm4chee-arc-light: /dcm4chee-arc/aets lists the archive's AEs; QIDO-RS answers 204 when nothing matches.
const DCM4CHEE_AETS = [{ dicomAETitle: 'DCM4CHEE', dicomDescription: 'Hide instances rejected for Quality Reasons' }, { dicomAETitle: 'IOCM_REGULAR_USE' }];

t.test('dcm4chee-arc without a login: its REST API and QIDO-RS are exposed, its UI named', async (t) => {
  const port = await site(t, {
    '/dcm4chee-arc/aets': json(DCM4CHEE_AETS),
    '/dcm4chee-arc/aets/DCM4CHEE/rs/studies?limit=1': (res) => res.writeHead(204).end(),
    '/dcm4chee-arc/ui2/': html('dcm4chee-arc-ui'),
  });
  const r = await probe(port);
  t.equal(r.verdict, 'exposed');
  t.same(r.evidence, [
    'GET /dcm4chee-arc/aets → 200: dcm4chee-arc REST API answered without authentication (2 AE titles listed)',
    'GET /dcm4chee-arc/aets/DCM4CHEE/rs/studies?limit=1 → 204: dcm4chee-arc QIDO-RS (AE DCM4CHEE) answered without authentication (no studies)',
    'GET /dcm4chee-arc/ui2/ → 200: dcm4chee-arc UI served (whether its API asks for a login is shown by /dcm4chee-arc/aets)',
  ]);
});

t.test('dcm4chee-arc secured with Keycloak: the UI shell loads, the API asks for a token (protected)', async (t) => {
  const port = await site(t, {
    '/dcm4chee-arc/aets': bearer('dcm4che'),
    '/dcm4chee-arc/aets/DCM4CHEE/rs/studies?limit=1': bearer('dcm4che'),
    '/dcm4chee-arc/ui2/': html('dcm4chee-arc-ui'),
  });
  const r = await probe(port);
  t.equal(r.verdict, 'protected');
  t.match(r.evidence.join('\n'), /GET \/dcm4chee-arc\/aets → 401: asks for authentication \(WWW-Authenticate: Bearer realm="dcm4che"\)/);
  t.match(r.evidence.join('\n'), /GET \/dcm4chee-arc\/ui2\/ → 200: dcm4chee-arc UI served/);
});

t.test('Orthanc Explorer 2 with an open REST API: exposed', async (t) => {
  const port = await site(t, {
    '/system': json({ DicomAet: 'ORTHANC', Version: '1.12.4', Name: 'MyOrthanc' }),
    '/ui/app/': html('Orthanc Explorer 2'),
  });
  const r = await probe(port);
  t.equal(r.verdict, 'exposed');
  t.match(r.evidence.join('\n'), /GET \/system → 200: Orthanc REST API answered without authentication \(Orthanc 1\.12\.4, AE ORTHANC\)/);
  t.match(r.evidence.join('\n'), /GET \/ui\/app\/ → 200: Orthanc Explorer 2/);
});

t.test('Orthanc Explorer 2 in front of the authorization plugin: the page loads, the API refuses (protected, not exposed)', async (t) => {
  // With the authorization plugin and Keycloak, OE2's page is public (it runs the login) while every
  // REST call needs a token: the page alone proves no access.
  const port = await site(t, {
    '/system': bearer('orthanc'),
    '/dicom-web/studies?limit=1': bearer('orthanc'),
    '/ui/app/': html('Orthanc Explorer 2'),
  });
  const r = await probe(port);
  t.equal(r.verdict, 'protected');
  t.match(r.evidence.join('\n'), /GET \/system → 401: asks for authentication/);
  t.match(r.evidence.join('\n'), /GET \/ui\/app\/ → 200: Orthanc Explorer 2/);
});
