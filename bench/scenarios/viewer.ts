// The viewer's study open (OHIF in Debian chromium): time to the first image on the viewport and the
// DICOMweb requests it takes, through the gateway (session cookie) vs nginx serving the same build
// and proxying the same Orthanc without any authentication.

import { spawnSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { freePort } from '../../test/helpers/ports.js';
import { viewerAppConfig } from '../../src/http/viewer/app-config.js';
import { startNginxViewer } from '../lib/nginx.js';
import { ROOT } from '../lib/paths.js';
import type { ScenarioResult } from '../lib/report.js';
import { interleaved, type VariantBase } from '../lib/rounds.js';
import type { BenchContext } from './context.js';

/** The prepared OHIF build (scripts/fetch-viewer.sh), as the bench's gateways are configured with. */
export const VIEWER_ROOT = join(ROOT, '.viewer/ohif');

/** Fetches (or checks) the pinned viewer build; before the gateways start, which read it once. */
export function prepareViewer(log: (line: string) => void): void {
  log('  viewer build (scripts/fetch-viewer.sh)');
  const r = spawnSync('bash', [join(ROOT, 'scripts/fetch-viewer.sh'), VIEWER_ROOT], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`scripts/fetch-viewer.sh failed: ${r.stderr.slice(-2000)}`);
}

interface ViewerVariant extends VariantBase { readonly origin: string; readonly cookie?: string; readonly http1: boolean }

const COOKIE = '__Host-pacs-session';

/** One cold study open in a fresh browser context (empty cache): the first image, then until the network is idle. */
async function openStudy(browser: Browser, v: ViewerVariant, studyUid: string, seriesUid: string): Promise<Record<string, number>> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
  try {
    if (v.cookie !== undefined) await context.addCookies([{ name: COOKIE, value: v.cookie, url: `${v.origin}/`, secure: true, httpOnly: true, sameSite: 'Strict' }]);
    await context.addInitScript(() => { performance.setResourceTimingBufferSize(100_000); });
    const page = await context.newPage();
    await page.goto(`${v.origin}/viewer/viewer?StudyInstanceUIDs=${studyUid}`);
    // performance.now() is measured from the navigation's start.
    const handle = await page.waitForFunction(() => {
      const c = document.querySelector('canvas.cornerstone-canvas') as HTMLCanvasElement | null;
      const ctx = c?.getContext('2d');
      if (c === null || ctx === null || ctx === undefined || c.width === 0) return false;
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      const colours = new Set<number>();
      for (let i = 0; i < d.length && colours.size < 16; i += 4 * 97) colours.add((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!);
      return colours.size >= 16 ? performance.now() : false;
    }, undefined, { polling: 'raf', timeout: 120_000 });
    const firstImageMs = (await handle.jsonValue()) as number;
    await page.waitForLoadState('networkidle');
    const t = await page.evaluate((first) => {
      const all = performance.getEntriesByType('resource') as PerformanceResourceTiming[];
      const dw = all.filter((e) => new URL(e.name).pathname.startsWith('/dicom-web/'));
      const path = (e: PerformanceResourceTiming): string => new URL(e.name).pathname;
      const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] ?? Number.NaN; };
      return {
        toFirst: dw.filter((e) => e.startTime < first).length,
        total: dw.length,
        qido: dw.filter((e) => /\/(studies|series|instances)$/.test(path(e))).length,
        metadata: dw.filter((e) => path(e).endsWith('/metadata')).length,
        frames: dw.filter((e) => /\/frames\/[0-9,]+$/.test(path(e))).length,
        loadedMs: Math.max(0, ...dw.map((e) => e.responseEnd)),
        // The app's own start: when its first DICOMweb request left (everything before is the page, its files and OHIF starting).
        firstDicomwebMs: Math.min(...dw.map((e) => e.startTime)),
        appFiles: all.filter((e) => !new URL(e.name).pathname.startsWith('/dicom-web/') && e.startTime < first).length,
        // Per app file, request sent to its last byte (median), and to its first byte (median): the server's share.
        appFileMs: median(all.filter((e) => !new URL(e.name).pathname.startsWith('/dicom-web/') && e.startTime < first).map((e) => e.responseEnd - e.requestStart)),
        appFileFirstByteMs: median(all.filter((e) => !new URL(e.name).pathname.startsWith('/dicom-web/') && e.startTime < first).map((e) => e.responseStart - e.requestStart)),
        bytes: all.reduce((s, e) => s + e.encodedBodySize, 0),
        // Every request of the open, in the order they started (written out with PGW_VIEWER_TIMELINE).
        timeline: all.map((e) => ({ path: path(e), start: e.startTime, requestStart: e.requestStart, firstByte: e.responseStart, end: e.responseEnd, bytes: e.encodedBodySize })),
      };
    }, firstImageMs);
    // PGW_VIEWER_TIMELINE=FILE: one JSON line per open (variant, first image, every request's timings), for a per-file comparison.
    const timelineFile = process.env['PGW_VIEWER_TIMELINE'];
    if (timelineFile !== undefined) appendFileSync(timelineFile, `${JSON.stringify({ variant: v.id, firstImageMs, firstDicomwebMs: t.firstDicomwebMs, timeline: t.timeline })}\n`);
    // The whole series as a viewer that prefetches it: the instance list, then every instance's
    // first frame at once (the browser queues them: 6 connections over HTTP/1.1, one over HTTP/2).
    const series = await page.evaluate(async ({ study, series }) => {
      const t0 = performance.now();
      const base = `/dicom-web/studies/${study}/series/${series}`;
      const list = await (await fetch(`${base}/instances`, { headers: { accept: 'application/dicom+json' } })).json() as Record<string, { Value?: string[] }>[];
      const uids = list.map((o) => o['00080018']?.Value?.[0] ?? '');
      const sizes = await Promise.all(uids.map(async (uid) => {
        const r = await fetch(`${base}/instances/${uid}/frames/1`, { headers: { accept: 'multipart/related; type="application/octet-stream"' } });
        if (!r.ok) throw new Error(`frame of ${uid}: ${r.status}`);
        return (await r.arrayBuffer()).byteLength;
      }));
      const entry = performance.getEntriesByType('resource').find((e) => e.name.endsWith('/frames/1')) as PerformanceResourceTiming | undefined;
      return { ms: performance.now() - t0, count: uids.length, bytes: sizes.reduce((a, b) => a + b, 0), protocol: entry?.nextHopProtocol ?? '' };
    }, { study: studyUid, series: seriesUid });
    const want = v.http1 ? 'http/1.1' : 'h2';
    if (series.protocol !== want) throw new Error(`${v.id}: the frames came over ${series.protocol}, not ${want}`);
    return {
      firstImageMs, firstDicomwebMs: t.firstDicomwebMs, appFiles: t.appFiles, appFileMs: t.appFileMs, appFileFirstByteMs: t.appFileFirstByteMs, requestsToFirstImage: t.toFirst, requests: t.total, qido: t.qido, metadata: t.metadata, frames: t.frames, loadedMs: t.loadedMs, megabytes: t.bytes / 1e6,
      seriesMs: series.ms, seriesInstances: series.count,
    };
  } finally {
    await context.close();
  }
}

/** The gateway's response headers for /viewer/ that are policy, not representation (for nginx to send the same). */
function gatewayViewerHeaders(origin: string, token: string): Promise<Record<string, string>> {
  const skip = new Set(['date', 'content-length', 'content-type', 'content-encoding', 'etag', 'last-modified', 'vary', 'connection', 'keep-alive', 'cache-control', 'transfer-encoding']);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${origin}/viewer/`, { rejectUnauthorized: false, headers: { cookie: `${COOKIE}=${token}` } }, (res) => {
      res.resume();
      if (res.statusCode !== 200) { reject(new Error(`gateway /viewer/: ${res.statusCode}`)); return; }
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) if (!skip.has(k) && typeof v === 'string') out[k] = v;
      resolve(out);
    });
    req.on('error', reject);
    req.end();
  });
}

export async function viewerStudyOpen(ctx: BenchContext): Promise<ScenarioResult> {
  const { env } = ctx;
  const port = await freePort();
  const appConfig = viewerAppConfig({ basename: '/viewer', dicomweb: '/dicom-web', wadoUri: '/wado' });
  const nginx = await startNginxViewer(env.dir, env.id, ctx.options.nginxWorkers, { listen: port, upstream: env.orthanc.httpPort, viewerRoot: VIEWER_ROOT, appConfig });
  // PGW_VIEWER_NGINX_HEADERS: more variants, nginx sending the gateway's own policy headers (CSP, COOP, HSTS…,
  // read from the gateway's answer for /viewer/), so that the browser enforces the same policies on both.
  // "1": one variant with all of them; else groups of header names, `;` between groups, `,` within one
  // (e.g. "content-security-policy;cross-origin-opener-policy,origin-agent-cluster"): one variant per group.
  const spec = process.env['PGW_VIEWER_NGINX_HEADERS'];
  const groups = spec === undefined || spec === '' ? [] : spec === '1' ? [undefined] : spec.split(';').map((g) => g.split(',').map((h) => h.trim().toLowerCase()));
  const gatewayHeaders = groups.length === 0 ? {} : await gatewayViewerHeaders(env.gateway.url, env.tokens.gateway);
  const headerPeers = await Promise.all(groups.map(async (names, i) => {
    const headers = names === undefined ? gatewayHeaders : Object.fromEntries(Object.entries(gatewayHeaders).filter(([k]) => names.includes(k)));
    const listen = await freePort();
    const server = await startNginxViewer(env.dir, env.id, ctx.options.nginxWorkers, { listen, upstream: env.orthanc.httpPort, viewerRoot: VIEWER_ROOT, appConfig, headers, name: `nginx-viewer-headers-${i}` });
    const label = names === undefined ? 'the gateway\'s headers' : names.join(', ');
    return { server, variant: { id: `nginx-headers-${i}`, label: `nginx + ${label}, HTTP/2`, component: `nginx-viewer-headers-${i}`, origin: `https://127.0.0.1:${listen}`, http1: false } as ViewerVariant };
  }));
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'];
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args });
  // The same chromium with HTTP/2 switched off: both servers offer h2, this browser takes http/1.1.
  const browserHttp1 = await chromium.launch({ executablePath: '/usr/bin/chromium', args: [...args, '--disable-http2'] });
  try {
    const nginxOrigin = `https://127.0.0.1:${port}`;
    const variants: ViewerVariant[] = [
      { id: 'nginx', label: 'nginx, HTTP/2 (no authentication)', component: 'nginx-viewer', origin: nginxOrigin, http1: false },
      { id: 'gateway', label: 'gateway, HTTP/2 (session cookie)', component: 'gateway', origin: env.gateway.url, cookie: env.tokens.gateway, http1: false },
      ...headerPeers.map((p) => p.variant),
      { id: 'nginx-h1', label: 'nginx, HTTP/1.1', component: 'nginx-viewer', origin: nginxOrigin, http1: true },
      { id: 'gateway-h1', label: 'gateway, HTTP/1.1', component: 'gateway', origin: env.gateway.url, cookie: env.tokens.gateway, http1: true },
    ];
    const studyUid = env.data.first.studyUid;
    const seriesUid = env.data.first.seriesUid;
    const samples = await interleaved({
      variants, workload: ctx.options.workload, log: ctx.log,
      components: { ...env.components, 'nginx-viewer': () => nginx.pids(), ...Object.fromEntries(headerPeers.map((p) => [p.variant.component, () => p.server.pids()])) },
      run: (v) => openStudy(v.http1 ? browserHttp1 : browser, v, studyUid, seriesUid),
      describe: (m) => `app files ${(m['appFileFirstByteMs'] ?? 0).toFixed(1)} ms to first byte, ${(m['appFileMs'] ?? 0).toFixed(1)} ms to last (medians); first DICOMweb request at ${(m['firstDicomwebMs'] ?? 0).toFixed(0)} ms, first image ${(m['firstImageMs'] ?? 0).toFixed(0)} ms after ${m['requestsToFirstImage']} DICOMweb requests; ${m['requests']} in all, loaded at ${(m['loadedMs'] ?? 0).toFixed(0)} ms; series of ${m['seriesInstances']} frames in ${(m['seriesMs'] ?? 0).toFixed(0)} ms`,
    });
    return {
      id: 'viewer', title: 'Viewer study open (OHIF in chromium), Orthanc',
      note: `One cold open (new browser context, empty cache) of the series' study (${env.data.seriesCount} instances) at /viewer/viewer?StudyInstanceUIDs=…, in headless Debian chromium (software rendering). "first image" is from the navigation's start to the first viewport canvas with an image on it, and includes loading and starting OHIF itself (its JavaScript and WebAssembly, sent gzip-compressed by both servers from the copies scripts/fetch-viewer.sh prepares: the gateway with @fastify/static preCompressed, nginx with gzip_static). DICOMweb requests counted from the page's resource timings: those started before the first image, and all of them until the network is idle (500 ms without a request), by kind: QIDO-RS searches, WADO-RS metadata, WADO-RS frames (OHIF fetches a frame when it is shown or thumbnailed, not the whole series ahead). "MB" is everything the page downloaded. nginx serves the same prepared build and proxies /dicom-web/ to the same Orthanc with no authentication; the gateway checks the session and role on every request and writes an audit event for each. Both offer HTTP/2 (ALPN h2); the HTTP/1.1 variants are the same chromium started with --disable-http2. "whole series" is, after the study open, the series' instance list (QIDO-RS) and then every instance's first frame (WADO-RS frames) requested at once from the page, until the last has arrived: what a viewer that prefetches the series waits for.`,
      metrics: [
        { key: 'firstImageMs', label: 'first image ms', higherIsBetter: false, digits: 0 },
        { key: 'firstDicomwebMs', label: 'first DICOMweb request ms (OHIF loaded and started)', higherIsBetter: false, digits: 0 },
        { key: 'appFiles', label: 'app files before the first image', higherIsBetter: false, digits: 0 },
        { key: 'appFileMs', label: 'app file ms (median, request to last byte)', higherIsBetter: false, digits: 1 },
        { key: 'appFileFirstByteMs', label: 'app file first byte ms (median)', higherIsBetter: false, digits: 1 },
        { key: 'requestsToFirstImage', label: 'DICOMweb requests to first image', higherIsBetter: false, digits: 0 },
        { key: 'requests', label: 'DICOMweb requests in all', higherIsBetter: false, digits: 0 },
        { key: 'qido', label: 'of which QIDO-RS', higherIsBetter: false, digits: 0 },
        { key: 'metadata', label: 'metadata', higherIsBetter: false, digits: 0 },
        { key: 'frames', label: 'frames', higherIsBetter: false, digits: 0 },
        { key: 'loadedMs', label: 'last DICOMweb answer ms', higherIsBetter: false, digits: 0 },
        { key: 'megabytes', label: 'MB downloaded', higherIsBetter: false, digits: 1 },
        { key: 'seriesMs', label: 'whole series ms (every instance\'s frame at once)', higherIsBetter: false, digits: 0 },
        { key: 'seriesInstances', label: 'instances in the series', higherIsBetter: false, digits: 0 },
      ],
      variants: samples,
    };
  } finally {
    await browser.close();
    await browserHttp1.close();
    await nginx.stop();
    for (const p of headerPeers) await p.server.stop();
  }
}
