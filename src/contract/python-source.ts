/**
 * The names of the top-level functions (`def f(` or `async def f(` at column 0) of a Python
 * module. A small scanner, enough to tell code from strings and comments: a `def` inside a
 * (triple-)quoted string or after a line continuation does not count. Python is never run.
 */
export function topLevelFunctions(source: string): Set<string> {
  const names = new Set<string>();
  const defAt = /(?:async[ \t]+)?def[ \t]+([\p{L}_][\p{L}\p{N}_]*)[ \t]*\(/uy;
  let i = 0;
  let lineStart = true;
  let depth = 0;
  const n = source.length;
  while (i < n) {
    const ch = source[i]!;
    if (lineStart && depth === 0) {
      defAt.lastIndex = i;
      const m = defAt.exec(source);
      if (m) names.add(m[1]!);
    }
    lineStart = false;
    if (ch === '\n') {
      lineStart = true;
      i++;
    } else if (ch === '#') {
      while (i < n && source[i] !== '\n') i++;
    } else if (ch === '\\') {
      i += 2; // a continuation joins the next line: it does not start a statement
    } else if (ch === '(' || ch === '[' || ch === '{') {
      depth++;
      i++;
    } else if (ch === ')' || ch === ']' || ch === '}') {
      depth = Math.max(0, depth - 1);
      i++;
    } else if (ch === '"' || ch === "'") {
      i = skipString(source, i);
    } else {
      i++;
    }
  }
  return names;
}

/** Position after the string literal that opens at i (prefixes are plain identifier chars before it). */
function skipString(s: string, i: number): number {
  const q = s[i]!;
  const triple = s.startsWith(q.repeat(3), i);
  const close = triple ? q.repeat(3) : q;
  let j = i + close.length;
  while (j < s.length) {
    const c = s[j]!;
    if (c === '\\') {
      j += 2;
      continue;
    }
    if (!triple && c === '\n') return j; // unterminated single-line string: stop at the line end
    if (s.startsWith(close, j)) return j + close.length;
    j++;
  }
  return s.length;
}
