// The gateway pages' stylesheet and scripts, served from /assets/ (same origin, as the CSP wants).

import type { FastifyInstance } from 'fastify';

const CSS = `body{font-family:system-ui,sans-serif;margin:0;color:#1b1f24;background:#fff;line-height:1.45}
main{max-width:28rem;margin:3rem auto;padding:0 1rem}body.wide main{max-width:46rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-top:1px solid #ccd;padding-top:1rem}
label{display:block;margin:.8rem 0 .2rem;font-weight:600}input{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box;border:1px solid #555;border-radius:3px}
button{margin-top:1rem;padding:.55rem 1.1rem;font-size:1rem;background:#0b57d0;color:#fff;border:0;border-radius:4px;cursor:pointer}
button.secondary{background:#e8eaed;color:#1b1f24;border:1px solid #555}button.small{margin-top:0;padding:.3rem .7rem;font-size:.9rem}
button:focus-visible,input:focus-visible,a:focus-visible{outline:3px solid #e37400;outline-offset:2px}
.error{background:#fde8e8;border:1px solid #b3261e;color:#7a1a14;padding:.6rem;border-radius:4px}
.notice{background:#e6f4ea;border:1px solid #137333;color:#0d4f23;padding:.6rem;border-radius:4px}
.sso{display:inline-block;margin-top:1rem;padding:.6rem 1.2rem;border:1px solid #1b1f24;border-radius:4px;text-decoration:none;color:#1b1f24}
.note{color:#44474e;font-size:.92rem}code,.secret{background:#f1f3f4;padding:0 .25rem;word-break:break-all;font-family:ui-monospace,monospace}
pre{background:#f1f3f4;padding:.6rem;white-space:pre-wrap;word-break:break-all}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35rem .4rem;border-bottom:1px solid #dadce0;vertical-align:top}
.qr svg{width:240px;height:240px;display:block;background:#fff}
.inline{display:inline}dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}dt{font-weight:600}dd{margin:0}
a{color:#0b57d0}`;

/** Copy buttons (progressive enhancement: without JavaScript the value is still there to select). */
const ACCOUNT_JS = `document.querySelectorAll('[data-copy]').forEach(function (b) {
  b.hidden = false;
  b.addEventListener('click', function () {
    var el = document.getElementById(b.getAttribute('data-copy'));
    if (!el || !navigator.clipboard) return;
    navigator.clipboard.writeText(el.textContent.trim()).then(function () { b.textContent = 'Copied'; });
  });
});`;

export async function assetRoutes(app: FastifyInstance): Promise<void> {
  app.get('/assets/app.css', async (_req, reply) => reply.header('cache-control', 'public, max-age=3600').type('text/css; charset=utf-8').send(CSS));
  app.get('/assets/account.js', async (_req, reply) => reply.header('cache-control', 'public, max-age=3600').type('text/javascript; charset=utf-8').send(ACCOUNT_JS));
}
