/**
 * The operator's update repository (pools file `updateRepository`, R3.10): a directory, or an http(s) URL on the
 * operator's network serving a directory listing, of update ISOs for the target. Each ISO's update.xml is read with a
 * few small reads (iso.ts; HTTP Range requests for a URL), never the whole image. I/O only at the edges: the planner
 * gets the result as data.
 */
import { open, readdir, stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { readRootFile, type ReadAt } from './iso';
import { parseUpdateXml, type UpdateMetadata } from './metadata';

export interface RepositoryUpdate extends UpdateMetadata {
  /** absolute file path or URL of the ISO */
  source: string;
  /** bytes of the ISO (what the upload sends) */
  size: number;
}

export interface RepositoryRead {
  source: string;
  updates: RepositoryUpdate[];
  /** one line per ISO that could not be read, or why the repository itself could not be read */
  problems: string[];
}

const isUrl = (s: string): boolean => /^https?:\/\//.test(s);

async function fileReader(path: string): Promise<{ readAt: ReadAt; size: number; close: () => Promise<void> }> {
  const fh = await open(path, 'r');
  const { size } = await fh.stat();
  return {
    size,
    readAt: async (offset, length) => {
      const buf = Buffer.alloc(Math.max(0, Math.min(length, size - offset)));
      if (buf.length) await fh.read(buf, 0, buf.length, offset);
      return buf;
    },
    close: () => fh.close(),
  };
}

/** HTTP Range reads; the total size from Content-Range. */
function httpReader(url: string, timeoutMs: number): { readAt: ReadAt; size: () => number | undefined } {
  let total: number | undefined;
  return {
    size: () => total,
    readAt: async (offset, length) => {
      const res = await fetch(url, { headers: { range: `bytes=${offset}-${offset + length - 1}` }, signal: AbortSignal.timeout(timeoutMs) });
      if (res.status !== 206) throw new Error(`HTTP ${res.status} to a Range request (the server must support byte ranges)`);
      const m = /\/(\d+)$/.exec(res.headers.get('content-range') ?? '');
      if (m) total = Number(m[1]);
      return Buffer.from(await res.arrayBuffer());
    },
  };
}

/** ISO names in a directory listing (an autoindex HTML page, or one name per line). Only plain names: no paths. */
export function isoNamesInListing(body: string): string[] {
  const hrefs = [...body.matchAll(/href\s*=\s*"([^"]+)"/gi)].map((m) => m[1]!);
  const candidates = hrefs.length ? hrefs : body.split(/\r?\n/).map((l) => l.trim());
  const names = candidates.map((n) => decodeURIComponent(n)).filter((n) => /^[A-Za-z0-9][A-Za-z0-9._+-]*\.iso$/i.test(n));
  return [...new Set(names)].sort();
}

/** Read every ISO's metadata. Never throws: what could not be read is in `problems` (a plan blocker). */
export async function readUpdateRepository(source: string, opts: { timeoutMs?: number } = {}): Promise<RepositoryRead> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const updates: RepositoryUpdate[] = [];
  const problems: string[] = [];
  const base = isUrl(source) ? (source.endsWith('/') ? source : `${source}/`) : resolve(source);
  let names: string[];
  try {
    if (isUrl(source)) {
      const res = await fetch(base, { signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      names = isoNamesInListing(await res.text());
    } else {
      names = (await readdir(base)).filter((n) => /\.iso$/i.test(n)).sort();
    }
  } catch (e) {
    return { source, updates, problems: [`the update repository ${source} could not be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`] };
  }
  if (names.length === 0) problems.push(`the update repository ${source} holds no .iso file`);
  for (const name of names) {
    const where = isUrl(source) ? new URL(encodeURIComponent(name), base).toString() : join(base, name);
    try {
      let xml: string;
      let size: number;
      if (isUrl(source)) {
        const r = httpReader(where, timeoutMs);
        xml = await readRootFile(r.readAt);
        size = r.size() ?? 0;
      } else {
        const r = await fileReader(where);
        try {
          xml = await readRootFile(r.readAt);
          size = r.size;
        } finally {
          await r.close();
        }
      }
      updates.push({ ...parseUpdateXml(xml), source: where, size });
    } catch (e) {
      problems.push(`${name}: ${(e as Error).message}`);
    }
  }
  const seen = new Map<string, string>();
  for (const u of updates) {
    const other = seen.get(u.uuid);
    if (other) problems.push(`${u.nameLabel} (${u.source}) has the same uuid as ${other}`);
    seen.set(u.uuid, u.nameLabel);
  }
  return { source, updates, problems };
}

/** The ISO's bytes as a stream, and their count (the upload, runner/steps/upload-updates.ts). */
export async function openUpdateIso(source: string): Promise<{ size: number; stream: Readable }> {
  if (isUrl(source)) {
    // no overall timeout: an ISO of hundreds of MB takes what it takes; a stalled body fails the upload's own timeout
    const res = await fetch(source);
    if (!res.ok || !res.body) throw new Error(`GET ${source}: HTTP ${res.status}`);
    const size = Number(res.headers.get('content-length') ?? NaN);
    if (!Number.isFinite(size)) throw new Error(`GET ${source}: no Content-Length`);
    return { size, stream: Readable.fromWeb(res.body as import('node:stream/web').ReadableStream) };
  }
  const { size } = await stat(source);
  return { size, stream: createReadStream(source) };
}
