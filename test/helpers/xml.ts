// Test helper: a minimal XML reader for audit messages (elements, attributes, text; entity references decoded).

export interface XmlElement {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: XmlElement[];
  text: string;
}

function decode(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot|apos);/gi, (_m, e: string) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1)));
    return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[e] as string;
  });
}

/** Parses a document (declaration allowed); throws on mismatched tags. */
export function parseXml(xml: string): XmlElement {
  const root: XmlElement = { name: '#root', attrs: {}, children: [], text: '' };
  const stack: XmlElement[] = [root];
  const token = /<\?[\s\S]*?\?>|<(\/?)([A-Za-z_][\w.-]*)((?:\s+[\w.:-]+\s*=\s*"[^"]*")*)\s*(\/?)>|([^<]+)/g;
  for (let m = token.exec(xml); m !== null; m = token.exec(xml)) {
    const top = stack[stack.length - 1] as XmlElement;
    if (m[5] !== undefined) { top.text += decode(m[5]); continue; }
    if (m[2] === undefined) continue;
    if (m[1] === '/') {
      if (top.name !== m[2]) throw new Error(`</${m[2]}> closes <${top.name}>`);
      stack.pop();
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of (m[3] ?? '').matchAll(/([\w.:-]+)\s*=\s*"([^"]*)"/g)) attrs[a[1] as string] = decode(a[2] as string);
    const el: XmlElement = { name: m[2], attrs, children: [], text: '' };
    top.children.push(el);
    if (m[4] !== '/') stack.push(el);
  }
  if (stack.length !== 1) throw new Error('unclosed element');
  const doc = root.children[0];
  if (doc === undefined) throw new Error('empty document');
  return doc;
}

/** Direct children named `name`. */
export function kids(e: XmlElement, name: string): XmlElement[] {
  return e.children.filter((c) => c.name === name);
}
