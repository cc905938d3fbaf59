/**
 * Hotfixes of a scenario (R3.10): the update ISOs an operator would have in the bot's update repository. Each is a
 * real ISO 9660 image with an update.xml at its root (src/updates/iso.ts, metadata.ts) and a payload, written to a
 * directory by writeHotfixRepository. The simulator learns an update only by reading the update.xml of what was
 * uploaded through PUT /import_raw_vdi, as xapi does at pool_update.introduce; `livepatch` is the host side (the
 * precheck's answer), which no update.xml carries.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { buildIso } from '../updates/iso';
import { GUIDANCES, updateXml, type UpdateMetadata } from '../updates/metadata';

const version = z.string().regex(/^\d+(\.\d+){0,3}$/, 'a dotted version such as 7.6.0');

export const hotfixSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'an update name like XS76E001'),
    version: version.default('1.0'),
    /** the product version it applies to (update.xml <requires … version>) */
    for: version,
    test: z.enum(['eq', 'ge']).default('eq'),
    guidance: z.array(z.enum(GUIDANCES)).default(['restartHost']),
    /** names of hotfixes that must be applied first */
    prerequisites: z.array(z.string().min(1)).default([]),
    /** the precheck answers ok_livepatch_complete: its restartHost is covered live */
    livepatch: z.boolean().default(false),
    description: z.string().min(1).max(500).optional(),
    /** size of the ISO's payload (what the upload sends), MiB */
    sizeMiB: z.number().positive().max(64).default(2),
  })
  .strict();
export type Hotfix = z.output<typeof hotfixSchema>;

/** A stable uuid from the pool and hotfix names (the same ISO every time the repository is written). */
export function hotfixUuid(pool: string, name: string): string {
  const h = createHash('sha256').update(`${pool}/${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function hotfixMetadata(pool: string, hotfixes: Hotfix[], h: Hotfix): UpdateMetadata {
  const size = Math.round(h.sizeMiB * 1024 * 1024);
  return {
    uuid: hotfixUuid(pool, h.name),
    nameLabel: h.name,
    version: h.version,
    description: h.description ?? `Public Availability: fixes for XenServer ${h.for} (${h.name})`,
    key: 'RPM-GPG-KEY-XS-simulator',
    installationSize: size * 3,
    guidance: h.guidance,
    requires: { product: 'XenServer', version: h.for, test: h.test },
    prerequisites: h.prerequisites.map((p) => {
      if (!hotfixes.some((x) => x.name === p)) throw new Error(`hotfix ${h.name}: unknown prerequisite ${p}`);
      return hotfixUuid(pool, p);
    }),
  };
}

export function hotfixIso(pool: string, hotfixes: Hotfix[], h: Hotfix): Buffer {
  const meta = hotfixMetadata(pool, hotfixes, h);
  const payload = Buffer.alloc(Math.round(h.sizeMiB * 1024 * 1024), h.name.charCodeAt(h.name.length - 1));
  return buildIso([
    { name: 'update.xml', data: Buffer.from(updateXml(meta)) },
    { name: 'payload.rpm', data: payload },
  ], h.name.toUpperCase());
}

/** Writes `<dir>/<name>.iso` for every hotfix; returns the directory. */
export function writeHotfixRepository(pool: string, hotfixes: Hotfix[], dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const h of hotfixes) writeFileSync(join(dir, `${h.name}.iso`), hotfixIso(pool, hotfixes, h));
  return dir;
}
