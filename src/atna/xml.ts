// XML text and attribute escaping for audit messages: every value from the outside world goes through here.

/** Characters XML 1.0 does not allow at all (§2.2 Char): controls other than TAB, LF, CR; U+FFFE/U+FFFF; lone surrogates. */
const NOT_XML = /[\0-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const SPECIAL = /[&<>"'\t\n\r]/g;
const ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;',
  // In attribute values these would be normalised to spaces (XML §3.3.3); as references they survive, and the message stays one line.
  '\t': '&#9;', '\n': '&#10;', '\r': '&#13;',
};

/** Anything that needs escaping or replacing (most values need neither: they are returned as they are). */
const ANY = /[&<>"'\0-\x1f\ufffe\uffff\ud800-\udfff]/;

/** Escapes a value for an attribute or text node; characters XML cannot carry become U+FFFD. */
export function xmlEscape(value: string): string {
  if (!ANY.test(value)) return value;
  return value.replace(NOT_XML, '\ufffd').replace(SPECIAL, (c) => ENTITIES[c] as string);
}

/** One element: attributes (undefined ones left out, in the order given) and children (already XML). */
export function el(name: string, attrs: Readonly<Record<string, string | number | boolean | undefined>>, children: readonly string[] = []): string {
  let s = `<${name}`;
  for (const k in attrs) {
    const v = attrs[k];
    if (v !== undefined) s += ` ${k}="${typeof v === 'string' ? xmlEscape(v) : String(v)}"`;
  }
  return children.length === 0 ? `${s}/>` : `${s}>${children.join('')}</${name}>`;
}

/** An element with escaped text content. */
export function textEl(name: string, text: string): string {
  return `<${name}>${xmlEscape(text)}</${name}>`;
}
