/**
 * A bounded reader of the protobuf TEXT format (what `text_format.Parse` reads), for the subset a
 * `contract.prototxt` uses: fields `name: value` and `name { … }` (or `name: { … }`, `< … >`),
 * repeated fields written again or as lists `[a, b]`, strings with escapes (adjacent ones joined),
 * numbers, identifiers (enum values, true/false), `#` comments, `,`/`;` separators.
 * protobufjs reads .proto schemas, not this format, so it is read here, schema-free: the caller
 * interprets names. Extensions (`[pkg.ext]`) and `Any` expansions are refused.
 *
 * Every limit gives a TextFormatError with the line and column, never a hang: at most `maxBytes`
 * of text, `maxDepth` nested messages and `maxFields` fields in the whole document.
 */

export type TextScalar =
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number; raw: string }
  | { kind: 'identifier'; value: string };

export interface TextMessage {
  kind: 'message';
  fields: TextField[];
}

export interface TextField {
  name: string;
  line: number;
  value: TextScalar | TextMessage;
}

export interface TextFormatLimits {
  maxBytes: number;
  maxDepth: number;
  maxFields: number;
}

export const defaultTextFormatLimits: TextFormatLimits = { maxBytes: 1024 * 1024, maxDepth: 32, maxFields: 100_000 };

export class TextFormatError extends Error {
  constructor(
    readonly reason: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`${line}:${column}: ${reason}`);
    this.name = 'TextFormatError';
  }
}

type Token =
  | { type: 'punct'; value: string; line: number; column: number }
  | { type: 'identifier'; value: string; line: number; column: number }
  | { type: 'number'; value: number; raw: string; line: number; column: number }
  | { type: 'string'; value: string; line: number; column: number }
  | { type: 'end'; line: number; column: number };

const punctuation = new Set(['{', '}', '<', '>', '[', ']', ':', ',', ';']);
// Sticky: matched at the lexer's position in the whole text, no copies.
const numberPattern = /-?(?:0[xX][0-9a-fA-F]+|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)[fF]?/y;
const identifierPattern = /-?[A-Za-z_][A-Za-z0-9_]*/y;
const simpleEscapes: Readonly<Record<string, string>> = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v', '\\': '\\', "'": "'", '"': '"', '?': '?' };

class Lexer {
  private pos = 0;
  private line = 1;
  private lineStart = 0;
  private peeked: Token | null = null;

  constructor(private readonly text: string) {}

  peek(): Token {
    this.peeked ??= this.read();
    return this.peeked;
  }

  next(): Token {
    const t = this.peek();
    this.peeked = null;
    return t;
  }

  fail(reason: string, at: { line: number; column: number }): never {
    throw new TextFormatError(reason, at.line, at.column);
  }

  private read(): Token {
    const { text } = this;
    for (;;) {
      const ch = text[this.pos];
      if (ch === undefined) return { type: 'end', line: this.line, column: this.pos - this.lineStart + 1 };
      if (ch === '\n') {
        this.pos += 1;
        this.line += 1;
        this.lineStart = this.pos;
      } else if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\f' || ch === '\v') {
        this.pos += 1;
      } else if (ch === '#') {
        const end = text.indexOf('\n', this.pos);
        this.pos = end < 0 ? text.length : end;
      } else break;
    }
    const at = { line: this.line, column: this.pos - this.lineStart + 1 };
    const ch = text[this.pos]!;
    if (punctuation.has(ch)) {
      this.pos += 1;
      return { type: 'punct', value: ch, ...at };
    }
    if (ch === '"' || ch === "'") return { type: 'string', value: this.readString(ch, at), ...at };
    numberPattern.lastIndex = this.pos;
    const num = numberPattern.exec(text);
    if (num) {
      this.pos += num[0].length;
      return { type: 'number', value: numberValue(num[0]), raw: num[0], ...at };
    }
    identifierPattern.lastIndex = this.pos;
    const id = identifierPattern.exec(text);
    if (id) {
      this.pos += id[0].length;
      const lower = id[0].toLowerCase();
      if (lower === 'inf' || lower === '-inf' || lower === 'infinity' || lower === '-infinity' || lower === 'nan' || lower === '-nan') {
        return { type: 'number', value: lower.startsWith('-') ? -Infinity : lower.includes('nan') ? NaN : Infinity, raw: id[0], ...at };
      }
      if (id[0].startsWith('-')) this.fail(`unexpected "${id[0]}"`, at);
      return { type: 'identifier', value: id[0], ...at };
    }
    return this.fail(`unexpected character ${JSON.stringify(ch)}`, at);
  }

  private readString(quote: string, at: { line: number; column: number }): string {
    const { text } = this;
    let out = '';
    let i = this.pos + 1;
    for (;;) {
      const ch = text[i];
      if (ch === undefined || ch === '\n') this.fail('a string is not closed on its line', at);
      if (ch === quote) break;
      if (ch !== '\\') {
        out += ch;
        i += 1;
        continue;
      }
      const esc = text[i + 1];
      if (esc === undefined) this.fail('a string ends with a lone backslash', at);
      if (Object.hasOwn(simpleEscapes, esc)) {
        out += simpleEscapes[esc];
        i += 2;
      } else if (esc === 'x' || esc === 'X') {
        const hex = /^[0-9a-fA-F]{1,2}/.exec(text.slice(i + 2, i + 4));
        if (!hex) this.fail('\\x needs hex digits', at);
        out += String.fromCharCode(parseInt(hex[0], 16));
        i += 2 + hex[0].length;
      } else if (esc >= '0' && esc <= '7') {
        const oct = /^[0-7]{1,3}/.exec(text.slice(i + 1, i + 4))!;
        out += String.fromCharCode(parseInt(oct[0], 8) & 0xff);
        i += 1 + oct[0].length;
      } else if (esc === 'u' || esc === 'U') {
        const n = esc === 'u' ? 4 : 8;
        const hex = new RegExp(`^[0-9a-fA-F]{${n}}`).exec(text.slice(i + 2, i + 2 + n));
        const code = hex ? parseInt(hex[0], 16) : NaN;
        if (!hex || code > 0x10ffff) this.fail(`\\${esc} needs ${n} hex digits of a Unicode code point`, at);
        out += String.fromCodePoint(code);
        i += 2 + n;
      } else {
        this.fail(`unknown escape \\${esc}`, at);
      }
    }
    this.pos = i + 1;
    return out;
  }
}

function numberValue(raw: string): number {
  const body = raw.replace(/[fF]$/, '');
  if (/^-?0[xX]/.test(body)) return (body.startsWith('-') ? -1 : 1) * parseInt(body.replace(/^-?0[xX]/, ''), 16);
  return Number(body);
}

class Parser {
  private fields = 0;

  constructor(
    private readonly lexer: Lexer,
    private readonly limits: TextFormatLimits,
  ) {}

  document(): TextMessage {
    const msg = this.message(0, null);
    return msg;
  }

  private message(depth: number, closer: '}' | '>' | null): TextMessage {
    if (depth > this.limits.maxDepth) {
      const t = this.lexer.peek();
      this.lexer.fail(`messages nested more than ${this.limits.maxDepth} levels deep`, t);
    }
    const fields: TextField[] = [];
    for (;;) {
      const t = this.lexer.next();
      if (closer === null && t.type === 'end') return { kind: 'message', fields };
      if (t.type === 'punct' && t.value === closer) return { kind: 'message', fields };
      if (t.type === 'end') this.lexer.fail(`the message is not closed (expected "${closer}")`, t);
      if (t.type === 'punct' && t.value === '[') this.lexer.fail('extensions and Any expansions ([type.name]) are not supported in a contract', t);
      if (t.type !== 'identifier') this.lexer.fail(`expected a field name, found ${describeToken(t)}`, t);
      this.field(t.value, t.line, depth, fields);
      const sep = this.lexer.peek();
      if (sep.type === 'punct' && (sep.value === ',' || sep.value === ';')) this.lexer.next();
    }
  }

  private field(name: string, line: number, depth: number, into: TextField[]): void {
    let t = this.lexer.peek();
    const colon = t.type === 'punct' && t.value === ':';
    if (colon) {
      this.lexer.next();
      t = this.lexer.peek();
    }
    if (t.type === 'punct' && (t.value === '{' || t.value === '<')) {
      this.lexer.next();
      this.push(into, { name, line, value: this.message(depth + 1, t.value === '{' ? '}' : '>') }, t);
      return;
    }
    if (!colon) this.lexer.fail(`expected ":" or "{" after ${name}, found ${describeToken(t)}`, t);
    if (t.type === 'punct' && t.value === '[') {
      this.lexer.next();
      let first = true;
      for (;;) {
        const item = this.lexer.peek();
        if (item.type === 'punct' && item.value === ']') {
          this.lexer.next();
          return;
        }
        if (!first) {
          if (!(item.type === 'punct' && item.value === ',')) this.lexer.fail(`expected "," or "]" in the list of ${name}, found ${describeToken(item)}`, item);
          this.lexer.next();
        }
        first = false;
        const v = this.lexer.peek();
        if (v.type === 'punct' && (v.value === '{' || v.value === '<')) {
          this.lexer.next();
          this.push(into, { name, line: v.line, value: this.message(depth + 1, v.value === '{' ? '}' : '>') }, v);
        } else {
          this.push(into, { name, line: v.line, value: this.scalar(name) }, v);
        }
      }
    }
    this.push(into, { name, line, value: this.scalar(name) }, t);
  }

  private scalar(name: string): TextScalar {
    const t = this.lexer.next();
    if (t.type === 'number') return { kind: 'number', value: t.value, raw: t.raw };
    if (t.type === 'identifier') return { kind: 'identifier', value: t.value };
    if (t.type === 'string') {
      let value = t.value;
      for (let n = this.lexer.peek(); n.type === 'string'; n = this.lexer.peek()) {
        this.lexer.next();
        value += n.value;
      }
      return { kind: 'string', value };
    }
    return this.lexer.fail(`expected a value for ${name}, found ${describeToken(t)}`, t);
  }

  private push(into: TextField[], field: TextField, at: { line: number; column: number }): void {
    if (++this.fields > this.limits.maxFields) this.lexer.fail(`more than ${this.limits.maxFields} fields in the document`, at);
    into.push(field);
  }
}

function describeToken(t: Token): string {
  switch (t.type) {
    case 'end':
      return 'the end of the file';
    case 'string':
      return 'a string';
    case 'number':
      return t.raw;
    default:
      return `"${t.value}"`;
  }
}

/** Parses a whole text-format document into its fields, schema-free. Throws TextFormatError. */
export function parseTextFormat(text: string, limits: TextFormatLimits = defaultTextFormatLimits): TextMessage {
  const bytes = Buffer.byteLength(text);
  if (bytes > limits.maxBytes) throw new TextFormatError(`the file has ${bytes} bytes, more than the ${limits.maxBytes} allowed`, 1, 1);
  return new Parser(new Lexer(text), limits).document();
}
