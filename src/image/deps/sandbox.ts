import { execFile } from 'node:child_process';
import { lstatSync, readlinkSync } from 'node:fs';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/**
 * The bubblewrap sandbox source builds run in (MLL_PIP_ALLOW_SDIST): a package's build code sees the
 * system's programs and libraries read-only, the network (pip needs its index), its own scratch
 * directory writable, and nothing else of the worker — no other files, processes, users or
 * capabilities, and it dies with the worker. Wheels-only installs run no package code and need none.
 */
export const SANDBOX_PROGRAM = 'bwrap';

/** What a sandboxed program may see of /etc: name resolution and TLS roots, nothing with secrets. */
const ETC_READABLE = ['/etc/ssl', '/etc/ca-certificates', '/etc/resolv.conf', '/etc/hosts', '/etc/nsswitch.conf', '/etc/host.conf', '/etc/gai.conf', '/etc/alternatives', '/etc/ld.so.cache', '/etc/ld.so.conf', '/etc/ld.so.conf.d', '/etc/localtime', '/etc/passwd', '/etc/group'];
/** Top-level directories that merged-/usr systems keep as links into /usr. */
const ROOT_LINKS = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];

const lstatIfPresent = (p: string) => lstatSync(p, { throwIfNoEntry: false });

/**
 * The interpreter's real executable and its prefixes, asked of the interpreter itself: a name on
 * the PATH may be a shim (pyenv) or a virtualenv link, and inside the sandbox only the real
 * executable and its installation are visible.
 */
export async function interpreterPaths(interpreter: string, env: Record<string, string>): Promise<{ executable: string; prefixes: string[] }> {
  const { stdout } = await execFileAsync(interpreter, ['-I', '-c', 'import json, sys; print(json.dumps([sys.executable, sys.prefix, sys.base_prefix]))'], { env, timeout: 30_000 });
  const [executable, ...prefixes] = JSON.parse(stdout) as string[];
  if (!executable) throw new Error(`${interpreter} did not say where it is installed`);
  return { executable, prefixes: [...new Set(prefixes)] };
}

/**
 * bwrap's arguments around `command`: /usr and `readable` (the interpreter's installation when it
 * lives elsewhere, e.g. pyenv or a virtualenv) read-only, the writable directories bound at their own paths, a
 * fresh /proc, /dev and /tmp, every namespace but the network's unshared, all capabilities dropped.
 */
export function sandboxArgs(opts: { writable: string[]; readable: string[]; cwd: string; command: string[] }): string[] {
  const args = ['--die-with-parent', '--new-session', '--unshare-all', '--share-net', '--cap-drop', 'ALL', '--ro-bind', '/usr', '/usr'];
  for (const link of ROOT_LINKS) {
    const stat = lstatIfPresent(link);
    if (stat?.isSymbolicLink()) args.push('--symlink', readlinkSync(link), link);
    else if (stat?.isDirectory()) args.push('--ro-bind', link, link);
  }
  for (const p of ETC_READABLE) if (lstatIfPresent(p)) args.push('--ro-bind', p, p);
  for (const p of opts.readable) {
    if (p !== '/' && p !== '/usr' && !p.startsWith('/usr/')) args.push('--ro-bind', p, p);
  }
  args.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp');
  for (const dir of opts.writable) args.push('--bind', dir, dir);
  args.push('--chdir', opts.cwd, '--', ...opts.command);
  return args;
}
