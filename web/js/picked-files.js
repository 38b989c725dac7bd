/**
 * What the user dropped or picked, as one of:
 *   { kind: 'archives', files: [File] }                     one or more .tar / .tar.gz / .tgz
 *   { kind: 'folder', name, files: [{ path, file }] }        a folder (paths relative to it)
 *   { kind: 'invalid', reason }
 */

export const archivePattern = /\.(tar|tar\.gz|tgz)$/i;

export function isArchive(file) {
  return archivePattern.test(file.name);
}

/** "my-model.tar.gz" → "my-model"; a folder name is cleaned the same way. */
export function modelNameFrom(name) {
  const base = String(name).replace(archivePattern, '').toLowerCase();
  const cleaned = base.replace(/[^a-z0-9_-]+/g, '-').replace(/^[-_]+/, '').replace(/-+$/, '').slice(0, 63);
  return cleaned;
}

function fromArchives(files) {
  const bad = files.filter((f) => !isArchive(f));
  if (bad.length) {
    return { kind: 'invalid', reason: `“${bad[0].name}” is not a .tar or .tar.gz archive. Drop an archive, or the model's folder itself.` };
  }
  return { kind: 'archives', files };
}

/** From <input type=file webkitdirectory>: each file knows its path inside the chosen folder. */
export function fromDirectoryInput(fileList) {
  const files = [...fileList];
  if (files.length === 0) return { kind: 'invalid', reason: 'The folder is empty.' };
  const root = files[0].webkitRelativePath.split('/')[0];
  return {
    kind: 'folder',
    name: root,
    files: files.map((file) => ({ path: file.webkitRelativePath.split('/').slice(1).join('/'), file })),
  };
}

export function fromFileInput(fileList) {
  const files = [...fileList];
  if (files.length === 0) return { kind: 'invalid', reason: 'No file was chosen.' };
  return fromArchives(files);
}

function readAllEntries(directory) {
  const reader = directory.createReader();
  const all = [];
  return new Promise((resolve, reject) => {
    // readEntries answers in batches (100 in Chrome) until it answers an empty one.
    const next = () => reader.readEntries((batch) => {
      if (batch.length === 0) resolve(all);
      else {
        all.push(...batch);
        next();
      }
    }, reject);
    next();
  });
}

const fileOf = (entry) => new Promise((resolve, reject) => entry.file(resolve, reject));

async function walk(directory, prefix, out) {
  for (const entry of await readAllEntries(directory)) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory) await walk(entry, path, out);
    else if (entry.isFile) out.push({ path, file: await fileOf(entry) });
  }
}

/** From a drop: a folder (walked with the entries API), or archives. */
export async function fromDrop(dataTransfer) {
  const items = [...(dataTransfer.items ?? [])].filter((i) => i.kind === 'file');
  const entries = items.map((i) => (typeof i.webkitGetAsEntry === 'function' ? i.webkitGetAsEntry() : null));
  const folders = entries.filter((e) => e?.isDirectory);
  if (folders.length > 1) return { kind: 'invalid', reason: 'Drop one folder at a time (or several archives).' };
  if (folders.length === 1) {
    if (entries.length > 1) return { kind: 'invalid', reason: 'Drop either one folder or archives, not both.' };
    const files = [];
    await walk(folders[0], '', files);
    if (files.length === 0) return { kind: 'invalid', reason: `The folder “${folders[0].name}” is empty.` };
    return { kind: 'folder', name: folders[0].name, files };
  }
  const files = [...(dataTransfer.files ?? [])];
  if (files.length === 0) return { kind: 'invalid', reason: 'Nothing to upload was dropped.' };
  return fromArchives(files);
}
