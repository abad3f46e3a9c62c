// The viewer build on disk (viewer.path): which files it has, and the hashes of its inline scripts for the CSP.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

export interface ViewerBundle {
  readonly root: string;
  /** Relative paths ("/"-separated) of every file served; nothing else under root is. */
  readonly files: ReadonlySet<string>;
  /** The CSP sources allowing index.html's inline scripts ('sha256-…'), no 'unsafe-inline'. */
  readonly inlineScriptHashes: readonly string[];
}

export type ViewerBundleResult = { readonly ok: true; readonly bundle: ViewerBundle } | { readonly ok: false; readonly problem: string };

/**
 * Files the gateway never serves from a build by their own name: its own app-config.js is generated, dot files
 * are ours, and a `.gz` is the gzip copy of the file beside it (scripts/fetch-viewer.sh), sent in its place.
 */
function served(rel: string): boolean {
  return rel !== 'app-config.js' && !rel.endsWith('.gz') && !rel.split('/').some((s) => s.startsWith('.'));
}

function walk(root: string, dir: string, out: Set<string>): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) walk(root, full, out);
    else if (entry.isFile()) {
      const rel = relative(root, full).split(sep).join('/');
      if (served(rel)) out.add(rel);
    }
  }
}

/** Reads the build at `root` once at start-up; a missing or incomplete build is reported, not thrown. */
export function loadViewerBundle(root: string): ViewerBundleResult {
  const index = join(root, 'index.html');
  if (!existsSync(root) || !statSync(root).isDirectory()) return { ok: false, problem: `viewer.path ${root} is not a directory (run scripts/fetch-viewer.sh)` };
  if (!existsSync(index)) return { ok: false, problem: `viewer.path ${root} has no index.html (run scripts/fetch-viewer.sh)` };
  const files = new Set<string>();
  walk(root, root, files);
  const html = readFileSync(index, 'utf8');
  const inlineScriptHashes = [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)]
    .map((m) => `'sha256-${createHash('sha256').update(m[1] ?? '', 'utf8').digest('base64')}'`);
  return { ok: true, bundle: { root, files, inlineScriptHashes } };
}
