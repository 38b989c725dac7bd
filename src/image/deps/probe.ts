/**
 * Looks a project up on PEP 503 simple indexes, to tell a user why pip found nothing for it: not
 * there at all, only source distributions, or wheels for other Pythons and platforms.
 */
export interface ProbeResult {
  wheels: string[];
  sdists: string[];
  /** False when no index answered (connection refused, 5xx, 401). */
  reachable: boolean;
}

const sdistExt = /\.(tar\.gz|tgz|zip|tar\.bz2|tar\.xz|tar)$/i;

/** PEP 503 name normalisation. */
export function normaliseProjectName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/** File names linked from a simple index page. */
export function simpleIndexFiles(html: string): string[] {
  const out: string[] = [];
  const re = /<a\s[^>]*href\s*=\s*["']([^"']+)["'][^>]*>([^<]*)<\/a>/gi;
  for (let m = re.exec(html); m; m = re.exec(html)) {
    const text = m[2]!.trim();
    const fromHref = decodeURIComponent(m[1]!.replace(/[#?].*$/, '').split('/').pop() ?? '');
    out.push(text || fromHref);
  }
  return out;
}

export async function probeIndexes(project: string, indexUrls: string[], signal: AbortSignal): Promise<ProbeResult> {
  const result: ProbeResult = { wheels: [], sdists: [], reachable: false };
  for (const raw of indexUrls) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      continue;
    }
    const headers: Record<string, string> = { accept: 'text/html' };
    if (url.username || url.password) {
      headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
      url.username = '';
      url.password = '';
    }
    const page = new URL(`${normaliseProjectName(project)}/`, url.href.endsWith('/') ? url.href : `${url.href}/`);
    try {
      const res = await fetch(page, { headers, signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]), redirect: 'follow' });
      if (res.status === 404) {
        result.reachable = true;
        await res.body?.cancel();
        continue;
      }
      if (!res.ok) {
        await res.body?.cancel();
        continue;
      }
      result.reachable = true;
      for (const file of simpleIndexFiles(await res.text())) {
        if (/\.whl$/i.test(file)) result.wheels.push(file);
        else if (sdistExt.test(file)) result.sdists.push(file);
      }
    } catch {
      signal.throwIfAborted();
    }
  }
  return result;
}
