import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** Write a temp file, fsync it, rename it over, fsync the directory: all or nothing after a crash. */
export async function writeFileDurably(dir: string, name: string, text: string): Promise<void> {
  const path = join(dir, name);
  const tmp = `${path}.${process.pid}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path).catch(async (err) => {
    await rm(tmp, { force: true });
    throw err;
  });
  await fsyncDir(dir);
}

/** Makes a directory's entries (a new or renamed file) durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
