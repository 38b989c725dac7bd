/** Parsing of `WWW-Authenticate` challenges (RFC 7235), as registries send them. */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses one or more challenges: `Bearer realm="…",service="…",scope="repository:a:pull,push"`,
 * `Basic realm="x"`. Quoted values may hold commas and escaped quotes.
 */
export function parseChallenges(header: string | undefined): Challenge[] {
  if (!header) return [];
  const out: Challenge[] = [];
  let i = 0;
  const n = header.length;
  const skipSpace = () => { while (i < n && (header[i] === ' ' || header[i] === '\t')) i++; };
  const token = () => {
    const start = i;
    while (i < n && /[!#$%&'*+.^_`|~0-9A-Za-z-]/.test(header[i]!)) i++;
    return header.slice(start, i);
  };
  let current: Challenge | undefined;
  while (i < n) {
    skipSpace();
    if (header[i] === ',') { i++; continue; }
    const start = i;
    const word = token();
    if (!word) { i++; continue; }
    skipSpace();
    if (header[i] === '=' && current) {
      i++;
      skipSpace();
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++;
          value += header[i];
          i++;
        }
        i++;
      } else {
        const vStart = i;
        while (i < n && header[i] !== ',' && header[i] !== ' ') i++;
        value = header.slice(vStart, i);
      }
      current.params[word.toLowerCase()] = value;
    } else {
      // a new scheme (a token68 after it, if any, is kept whole)
      current = { scheme: header.slice(start, start + word.length).toLowerCase(), params: {} };
      out.push(current);
    }
  }
  return out;
}

/** The scope that grants pull (and push) on one repository, as a token service expects it. */
export function repositoryScope(repository: string, actions: 'pull' | 'pull,push'): string {
  return `repository:${repository}:${actions}`;
}

/** Registrable-ish domain (last two labels) used to decide where credentials may be sent. */
export function effectiveDomain(host: string): string {
  const h = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '').toLowerCase().replace(/\.$/, '');
  if (/^[\d.]+$/.test(h) || h.includes(':')) return h;
  const parts = h.split('.');
  return parts.length < 2 ? h : parts.slice(-2).join('.');
}
