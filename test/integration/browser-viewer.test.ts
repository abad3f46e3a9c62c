// A clinician reads images in the OHIF viewer behind the gateway (Debian chromium via playwright-core):
// sign in once (password + TOTP), study list, study, pixels on the viewport; every DICOMweb request
// goes to the gateway with the session cookie; STOW is the gateway's 403 for a viewer; after sign-out
// the viewer's next DICOMweb request is a 401 and the page is back at /login.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { Page, Response } from 'playwright-core';
import { startGateway } from '../helpers/gateway.js';
import { makeInstance, randomUid } from '../helpers/instances.js';
import { startOrthanc, uploadInstance } from '../helpers/orthanc.js';
import { phantomSlice, viewerBuild } from '../helpers/viewer.js';
import { launchChromium, screenshot } from '../helpers/browser.js';

interface Seen { readonly method: string; readonly origin: string; readonly path: string; readonly status: number }

t.test('OHIF behind the gateway: sign in, study list, study, pixels, STOW refused, sign out', async (t) => {
  const orthanc = await startOrthanc();
  t.teardown(() => orthanc.stop());
  const gw = await startGateway({ orthanc, config: { viewer: { path: viewerBuild() } } });
  t.teardown(() => gw.stop());

  const studyUid = randomUid();
  const seriesUid = randomUid();
  const slices = 3;
  for (let i = 1; i <= slices; i++) {
    const inst = makeInstance({
      studyUid, seriesUid, pixelBytes: 512 * 512 * 2, fillPixels: phantomSlice(i), patientName: 'Viewer^Test', patientId: 'PGW-VIEWER',
      extra: {
        InstanceNumber: i, ImagePositionPatient: [-128, -128, i * 5], ImageOrientationPatient: [1, 0, 0, 0, 1, 0], PixelSpacing: [0.5, 0.5],
        SliceThickness: 5, RescaleSlope: 1, RescaleIntercept: -1024, WindowCenter: 40, WindowWidth: 400, BodyPartExamined: 'HEAD',
      },
    });
    await uploadInstance(orthanc, inst.buffer);
  }
  const nina = await gw.addUser('nina', 'viewer');

  const browser = await launchChromium(t);
  // The dev CA is not in the browser's trust store; everything else about TLS is real.
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
  // OHIF starts slowly in a software-rendered headless browser on a busy 2-core machine: a generous bound, not a timing check.
  context.setDefaultTimeout(120_000);
  const page = await context.newPage();
  const seen: Seen[] = [];
  const cspViolations: string[] = [];
  page.on('response', (r: Response) => {
    const u = new URL(r.url());
    seen.push({ method: r.request().method(), origin: u.origin, path: u.pathname + u.search, status: r.status() });
  });
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text()); });
  const dicomweb = () => seen.filter((s) => s.path.startsWith('/dicom-web/') || s.path.startsWith('/wado'));

  // 1. The viewer's address without a session: the login page, then back to the viewer.
  await page.goto(`${gw.url}/viewer/`);
  t.equal(new URL(page.url()).pathname + new URL(page.url()).search, '/login?next=%2Fviewer%2F', 'sent to /login with next');
  await page.fill('#username', 'nina');
  await page.fill('#password', nina.password);
  await page.fill('#totp', await gw.code(nina));
  await page.click('button[type=submit]');
  await page.waitForURL(`${gw.url}/viewer/`);

  // 2. The study list, then the study.
  const row = page.locator('tr', { hasText: 'Viewer, Test' });
  await row.waitFor();
  t.ok(dicomweb().some((s) => s.path.startsWith('/dicom-web/studies?') && s.status === 200), 'the study list came from QIDO-RS through the gateway');
  await row.click();
  const launch = page.getByRole('button', { name: /basic viewer/i }).first();
  await launch.waitFor();
  await screenshot(page, 'viewer-study-list.png');
  await launch.click();
  await page.waitForURL((u) => u.pathname === '/viewer/viewer' && u.search.includes(studyUid));

  // 3. An image on the viewport: pixels that are not all one colour.
  const canvas = page.locator('canvas.cornerstone-canvas').first();
  await canvas.waitFor();
  await page.waitForFunction(() => {
    const c = document.querySelector('canvas.cornerstone-canvas') as HTMLCanvasElement | null;
    const ctx = c?.getContext('2d');
    if (c === null || ctx === null || ctx === undefined || c.width === 0) return false;
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    const colours = new Set<number>();
    for (let i = 0; i < d.length && colours.size < 16; i += 4 * 97) colours.add((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!);
    return colours.size >= 16;
  });
  t.pass('the viewport canvas shows an image (at least 16 distinct colours)');
  // OHIF's onboarding tour (an overlay that takes every click) and its investigational-use banner come
  // up in either order, depending on the machine's speed: the tour is dismissed before and after the banner.
  const skipTour = async (): Promise<void> => {
    const skip = page.getByText('Skip all');
    if (await skip.isVisible()) await skip.click();
  };
  await skipTour();
  const hide = page.getByRole('button', { name: /confirm and hide/i });
  if (await hide.isVisible()) await hide.click();
  await skipTour();
  await screenshot(page, 'viewer-study.png');

  // 4. Every DICOMweb request went to the gateway (this origin) and was answered 200.
  const calls = dicomweb();
  const gwOrigin = new URL(gw.url).origin;
  t.ok(calls.length > 0, `${calls.length} DICOMweb requests`);
  t.same(calls.filter((c) => c.origin !== gwOrigin), [], 'no DICOMweb request left the gateway\'s origin');
  t.same(calls.filter((c) => c.status !== 200), [], 'every DICOMweb answer was 200: the classifier accepts every route OHIF uses');
  const frames = calls.filter((c) => /^\/dicom-web\/studies\/[0-9.]+\/series\/[0-9.]+\/instances\/[0-9.]+\/frames\/1$/.test(c.path));
  t.ok(frames.length >= 1, `WADO-RS frames requests: ${frames.length}`);
  t.ok(calls.some((c) => c.path.endsWith('/metadata')), 'WADO-RS metadata');
  t.same(seen.filter((s) => s.origin === new URL(orthanc.dicomwebUrl).origin), [], 'the browser never talked to the PACS');
  const upstream = (await orthanc.httpRequestDetails()).map((r) => r.uri);
  for (const f of frames) t.ok(upstream.some((u) => f.path.endsWith(u.replace(/^\/dicom-web/, ''))), `the PACS served ${f.path.slice(-40)} for the gateway`);
  const allowed = gw.auditEvents('authz.http').filter((e) => e.decision === 'allow' && e.principal === 'nina');
  t.ok(allowed.length >= calls.length, 'each DICOMweb request is an audit event for nina');
  t.same(gw.auditEvents('authz.http').filter((e) => e.decision === 'deny'), [], 'no refusals while reading');
  t.same(cspViolations, [], 'no Content-Security-Policy violations');

  // 5. Roles unchanged: a viewer may not store. STOW from the viewer's page is the gateway's 403.
  const stow = await page.evaluate(async (uid) => {
    const boundary = 'pgw-stow';
    const body = `--${boundary}\r\nContent-Type: application/dicom\r\n\r\nnot really\r\n--${boundary}--\r\n`;
    const r = await fetch(`/dicom-web/studies/${uid}`, { method: 'POST', headers: { 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}` }, body });
    return { status: r.status, body: await r.text() };
  }, studyUid);
  t.equal(stow.status, 403, 'STOW from a viewer-role session: 403');
  t.match(stow.body, /ERR_FORBIDDEN|not allowed|forbidden/i);

  // 6. Sign out (another tab, the gateway's own sign-out form); the viewer's next DICOMweb request is 401 → /login.
  const other = await context.newPage();
  await other.goto(`${gw.url}/`);
  await other.locator('form[action="/auth/logout"] button').first().click();
  await other.waitForURL((u) => u.pathname === '/login');
  await other.close();
  const before = seen.length;
  await page.goBack(); // in-app navigation back to the study list: a new QIDO-RS request
  await page.waitForURL((u) => u.pathname === '/login');
  const after = seen.slice(before).filter((s) => s.path.startsWith('/dicom-web/'));
  t.ok(after.length >= 1 && after.every((s) => s.status === 401), `the viewer's next DICOMweb request got 401 (${after.map((s) => s.status).join(',')})`);
  t.match(new URL(page.url()).searchParams.get('next') ?? '', /^\/viewer\//, 'and the login page will bring them back to the viewer');
  t.equal(await page.title(), 'Sign in · PACS gateway');
});
