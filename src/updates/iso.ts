/**
 * The one file the bot reads inside an update ISO: `update.xml` at its root (xapi's pool_update.introduce mounts the
 * uploaded VDI and parses that file, xapi_pool_update.ml). A minimal ISO 9660 reader over random reads (a local file
 * or HTTP Range requests, so a 500 MB ISO is never read whole), and the matching writer the simulator and the tests use
 * to make update ISOs. Only the primary volume descriptor and the root directory are needed: `mkisofs -r -J` keeps an
 * ISO 9660 name (`UPDATE.XML;1`) there beside the Rock Ridge / Joliet names.
 */

export const SECTOR = 2048;
/** update.xml is a few KiB; anything larger is not an update's metadata */
const MAX_XML_BYTES = 1024 * 1024;
const MAX_ROOT_DIR_BYTES = 256 * 1024;

export type ReadAt = (offset: number, length: number) => Promise<Buffer>;

export class IsoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IsoError';
  }
}

interface DirRecord {
  name: string;
  extent: number;
  size: number;
  isDir: boolean;
}

function parseRecords(buf: Buffer): DirRecord[] {
  const out: DirRecord[] = [];
  let at = 0;
  while (at < buf.length) {
    const len = buf[at]!;
    if (len === 0) {
      // records never cross a sector: the rest of this sector is padding
      at = (Math.floor(at / SECTOR) + 1) * SECTOR;
      continue;
    }
    if (len < 34 || at + len > buf.length) throw new IsoError(`malformed directory record at byte ${at} of the root directory`);
    const nameLen = buf[at + 32]!;
    const raw = buf.subarray(at + 33, at + 33 + nameLen);
    const name = nameLen === 1 && raw[0]! <= 1 ? (raw[0] === 0 ? '.' : '..') : raw.toString('latin1');
    out.push({ name, extent: buf.readUInt32LE(at + 2), size: buf.readUInt32LE(at + 10), isDir: (buf[at + 25]! & 2) !== 0 });
    at += len;
  }
  return out;
}

/** "UPDATE.XML;1" → "update.xml" */
const isoName = (n: string): string => n.replace(/;\d+$/, '').replace(/\.$/, '').toLowerCase();

/** The text of `file` (case-insensitive ISO 9660 name) in the image's root directory. */
export async function readRootFile(readAt: ReadAt, file = 'update.xml'): Promise<string> {
  let pvd: Buffer | undefined;
  for (let sector = 16; sector < 32; sector++) {
    const d = await readAt(sector * SECTOR, SECTOR);
    if (d.length < SECTOR || d.toString('latin1', 1, 6) !== 'CD001') throw new IsoError('not an ISO 9660 image (no CD001 volume descriptor at sector 16)');
    if (d[0] === 1) {
      pvd = d;
      break;
    }
    if (d[0] === 255) break;
  }
  if (!pvd) throw new IsoError('ISO 9660 image without a primary volume descriptor');
  const blockSize = pvd.readUInt16LE(128);
  if (blockSize !== SECTOR) throw new IsoError(`unsupported ISO 9660 logical block size ${blockSize}`);
  const root = parseRecords(pvd.subarray(156, 156 + 34))[0];
  if (!root || !root.isDir) throw new IsoError('ISO 9660 primary volume descriptor has no root directory');
  if (root.size > MAX_ROOT_DIR_BYTES) throw new IsoError(`root directory of ${root.size} bytes: too large for an update ISO`);
  const entries = parseRecords(await readAt(root.extent * SECTOR, root.size));
  const hit = entries.find((e) => !e.isDir && isoName(e.name) === file.toLowerCase());
  if (!hit) throw new IsoError(`no ${file} in the ISO's root directory (found: ${entries.filter((e) => e.name !== '.' && e.name !== '..').map((e) => isoName(e.name)).join(', ') || 'nothing'})`);
  if (hit.size > MAX_XML_BYTES) throw new IsoError(`${file} is ${hit.size} bytes: too large`);
  const data = await readAt(hit.extent * SECTOR, hit.size);
  if (data.length !== hit.size) throw new IsoError(`${file} truncated: ${data.length} of ${hit.size} bytes`);
  return data.toString('utf8');
}

/** readAt over a buffer (an uploaded VDI's bytes in the simulator). */
export const bufferReader =
  (buf: Buffer): ReadAt =>
  async (offset, length) =>
    buf.subarray(offset, Math.min(buf.length, offset + length));

function bothEndian32(buf: Buffer, at: number, v: number): void {
  buf.writeUInt32LE(v, at);
  buf.writeUInt32BE(v, at + 4);
}
function bothEndian16(buf: Buffer, at: number, v: number): void {
  buf.writeUInt16LE(v, at);
  buf.writeUInt16BE(v, at + 2);
}

function dirRecord(name: Buffer, extent: number, size: number, isDir: boolean): Buffer {
  const len = 33 + name.length + (name.length % 2 === 0 ? 1 : 0);
  const r = Buffer.alloc(len);
  r[0] = len;
  bothEndian32(r, 2, extent);
  bothEndian32(r, 10, size);
  r[18] = 126; // 2026, recording date (years since 1900)
  r[19] = 1;
  r[20] = 1;
  r[25] = isDir ? 2 : 0;
  bothEndian16(r, 28, 1);
  r[32] = name.length;
  name.copy(r, 33);
  return r;
}

/**
 * A minimal ISO 9660 image: files in the root directory only, ISO 9660 names (upper case, ";1"). Enough for
 * update.xml plus a payload, which is what the simulator's update ISOs hold.
 */
export function buildIso(files: Array<{ name: string; data: Buffer }>, volumeId = 'UPDATE'): Buffer {
  const rootSector = 18;
  let next = rootSector + 1;
  const placed = files.map((f) => {
    const extent = next;
    next += Math.max(1, Math.ceil(f.data.length / SECTOR));
    return { ...f, extent };
  });
  const records = [
    dirRecord(Buffer.from([0]), rootSector, SECTOR, true),
    dirRecord(Buffer.from([1]), rootSector, SECTOR, true),
    ...placed.map((f) => dirRecord(Buffer.from(`${f.name.toUpperCase()};1`, 'latin1'), f.extent, f.data.length, false)),
  ];
  const rootDir = Buffer.concat(records);
  if (rootDir.length > SECTOR) throw new Error('too many files for a one-sector root directory');
  const image = Buffer.alloc(next * SECTOR);
  const pvd = image.subarray(16 * SECTOR, 17 * SECTOR);
  pvd[0] = 1;
  pvd.write('CD001', 1, 'latin1');
  pvd[6] = 1;
  pvd.write(volumeId.padEnd(32, ' ').slice(0, 32), 40, 'latin1');
  bothEndian32(pvd, 80, next);
  bothEndian16(pvd, 120, 1);
  bothEndian16(pvd, 124, 1);
  bothEndian16(pvd, 128, SECTOR);
  dirRecord(Buffer.from([0]), rootSector, SECTOR, true).copy(pvd, 156);
  pvd[881] = 1;
  const term = image.subarray(17 * SECTOR, 18 * SECTOR);
  term[0] = 255;
  term.write('CD001', 1, 'latin1');
  term[6] = 1;
  rootDir.copy(image, rootSector * SECTOR);
  for (const f of placed) f.data.copy(image, f.extent * SECTOR);
  return image;
}
