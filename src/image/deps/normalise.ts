/**
 * Makes a pip --target tree the same wherever pip ran, so the same wheels give the same layer on
 * any worker and in both builders (the docker builder runs this script inside its RUN step; the
 * oci builder runs the same steps in normalise-tree.ts, without a second Python start):
 *   - bytecode (`__pycache__`, `*.pyc`) is removed;
 *   - `direct_url.json` (it names the local path or URL a package came from) and `REQUESTED` (it
 *     depends on which requirement pulled a package in) are removed from every `*.dist-info`;
 *   - scripts in `bin/` get `#!/usr/bin/env python3` instead of the interpreter path of the
 *     machine pip ran on;
 *   - each RECORD drops the rows of removed files and gets the new hash and size of rewritten scripts.
 * Python, because it runs next to pip in both places (on the worker, and in the runtime image).
 * Usage: python3 -I -c "$NORMALISE_PY" <target-dir>
 */
export const NORMALISE_PY = String.raw`
import base64, csv, hashlib, os, shutil, sys

root = os.path.abspath(sys.argv[1])
removed = set()

for dirpath, dirnames, filenames in os.walk(root):
    for d in list(dirnames):
        if d == '__pycache__':
            full = os.path.join(dirpath, d)
            for p, _, fs in os.walk(full):
                removed.update(os.path.relpath(os.path.join(p, f), root) for f in fs)
            shutil.rmtree(full)
            dirnames.remove(d)
    for f in filenames:
        full = os.path.join(dirpath, f)
        if f.endswith('.pyc') or (dirpath.endswith('.dist-info') and f in ('direct_url.json', 'REQUESTED')):
            os.remove(full)
            removed.add(os.path.relpath(full, root))

def record_hash(data):
    return 'sha256=' + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()

rewritten = {}
bindir = os.path.join(root, 'bin')
if os.path.isdir(bindir):
    for f in sorted(os.listdir(bindir)):
        full = os.path.join(bindir, f)
        if os.path.islink(full) or not os.path.isfile(full):
            continue
        with open(full, 'rb') as fh:
            data = fh.read()
        first, sep, rest = data.partition(b'\n')
        if first.startswith(b'#!') and b'python' in first:
            new = b'#!/usr/bin/env python3\n' + rest
            if new != data:
                with open(full, 'wb') as fh:
                    fh.write(new)
            rewritten['bin/' + f] = new

def in_target(p):
    # pip --target records paths relative to the library dir it installed into, two levels below
    # the directory it then moved into the target ('../../bin/x' is bin/x).
    p = p.replace('\\', '/')
    if p.startswith('../../'):
        p = p[6:]
    return os.path.normpath(p)

for entry in sorted(os.listdir(root)):
    record = os.path.join(root, entry, 'RECORD')
    if not entry.endswith('.dist-info') or not os.path.isfile(record):
        continue
    with open(record, newline='', encoding='utf-8') as fh:
        rows = [r for r in csv.reader(fh) if r]
    out, changed = [], False
    for row in rows:
        rel = in_target(row[0])
        if rel in removed or rel.endswith('.pyc'):
            changed = True
            continue
        if rel in rewritten and len(row) >= 3:
            data = rewritten[rel]
            new = [row[0], record_hash(data), str(len(data))]
            changed = changed or new != row[:3]
            row = new + row[3:]
        out.append(row)
    if changed:
        with open(record, 'w', newline='', encoding='utf-8') as fh:
            csv.writer(fh).writerows(out)
`;
