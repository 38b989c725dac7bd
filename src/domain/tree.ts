/**
 * A model's file tree after extraction: what goes into the image under /model/files.
 * Each regular file's bytes are a blob in the object store at keys.blob(digest).
 * Entries are sorted by path; paths are relative, `/`-separated, already checked safe.
 */
export interface TreeFile {
  type: 'file';
  path: string;
  /** 0o644 or 0o755: modes are normalised, only the executable bit survives. */
  mode: number;
  size: number;
  /** sha256:<hex> of the content. */
  digest: string;
}

export interface TreeSymlink {
  type: 'symlink';
  path: string;
  /** Relative target that stays inside the tree. */
  target: string;
}

export type TreeEntry = TreeFile | TreeSymlink;

export interface TreeManifest {
  entries: TreeEntry[];
}
