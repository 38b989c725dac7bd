/** Waits for every promise, then throws the first failure: nothing is left running when it rejects. */
export async function settleAll(promises: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** `os/arch[/variant]` of this machine, as image configs spell it. */
export function hostPlatform(): string {
  switch (process.arch) {
    case 'x64': return 'linux/amd64';
    case 'arm64': return 'linux/arm64';
    case 'arm': return 'linux/arm/v7';
    case 'ia32': return 'linux/386';
    default: return `linux/${process.arch}`;
  }
}

export function parsePlatform(platform: string): { os: string; architecture: string; variant?: string } {
  const [os, architecture, variant] = platform.split('/');
  return { os: os || 'linux', architecture: architecture || 'amd64', ...(variant ? { variant } : {}) };
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}
