/** What replaces a secret in anything a user or operator can read. */
export const REDACTED = '***';

// scheme://user:password@ or scheme://token@ (userinfo is everything before the first @ of the authority).
const userinfo = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/@'"<>]+)@/gi;

/** Replaces the userinfo of every URL in `text` (`https://user:pw@host` → `https://***@host`). */
export function redactUrlCredentials(text: string): string {
  return text.replace(userinfo, `$1${REDACTED}@`);
}

/** The secrets (user names, passwords, tokens) carried in the userinfo of these URLs, decoded and raw. */
export function urlSecrets(urls: readonly string[]): string[] {
  const out = new Set<string>();
  for (const raw of urls) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      continue;
    }
    for (const part of [url.username, url.password]) {
      if (!part) continue;
      out.add(part);
      try {
        out.add(decodeURIComponent(part));
      } catch { /* not percent-encoded */ }
    }
  }
  // Longest first, so a secret that contains another is replaced whole.
  return [...out].filter((s) => s.length >= 3).sort((a, b) => b.length - a.length);
}

/**
 * A redactor for text from a process that was given these URLs: URL userinfo anywhere, and each
 * known secret wherever it appears on its own (pip echoes URLs in many shapes).
 */
export function secretRedactor(urls: readonly string[]): (text: string) => string {
  const secrets = urlSecrets(urls);
  return (text) => {
    let out = redactUrlCredentials(text);
    for (const secret of secrets) out = out.split(secret).join(REDACTED);
    return out;
  };
}
