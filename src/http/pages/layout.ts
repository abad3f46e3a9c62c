// What every HTML page of the gateway shares: escaping, the document frame, the stylesheet and scripts it links
// (served as files from /assets/, since the CSP allows no inline script: ../security-headers.ts).

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** A full page: `title` goes into <title> (" · PACS gateway" appended), `body` is trusted HTML built with escapeHtml. */
export function page(title: string, body: string, options: { scripts?: readonly string[]; wide?: boolean } = {}): string {
  const scripts = (options.scripts ?? []).map((s) => `<script src="/assets/${escapeHtml(s)}" defer></script>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)} · PACS gateway</title><link rel="stylesheet" href="/assets/app.css">${scripts}</head><body${options.wide === true ? ' class="wide"' : ''}><main>${body}</main></body></html>`;
}

/** A refusal shown above a form (role=alert so screen readers announce it). */
export function errorBox(id: string, message: string | undefined): string {
  return message === undefined ? '' : `<p class="error" role="alert" id="${escapeHtml(id)}">${escapeHtml(message)}</p>`;
}

/** A confirmation shown above the page's content. */
export function noticeBox(id: string, message: string | undefined): string {
  return message === undefined ? '' : `<p class="notice" role="status" id="${escapeHtml(id)}">${escapeHtml(message)}</p>`;
}

/** "N minutes" / "N seconds", for how long to wait. */
export function waitText(seconds: number): string {
  if (seconds < 90) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minute${minutes === 1 ? '' : 's'}`;
}

/** A date as people read it on the page, in UTC. */
export function when(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
