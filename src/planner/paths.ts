import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { z } from 'zod';
import { compareVersions } from '../domain/versions';
import { projectPath } from '../paths';

/**
 * The upgrade-path table (R1), loaded from manifests/upgrade-paths.yaml. Data, not code (R1.6).
 * Versions are compared numerically (src/domain/versions.ts), never as strings.
 */

const version = z.string().regex(/^\d+(\.\d+){0,3}$/, 'a dotted version such as 7.1.1');
const ruleId = z.string().regex(/^R\d+(\.\d+)?$/, 'a rule number such as R1.1');

const pathSchema = z
  .object({
    kind: z.enum(['base-iso', 'update-iso', 'refused']),
    rule: ruleId,
    note: z.string().default(''),
    from: z.array(version).default([]),
    ranges: z.array(z.object({ min: version, max: version }).strict()).default([]),
    wayOut: z.string().optional(),
    /** where the row comes from (R1.6): the vendor document it is taken from */
    source: z.string().min(1, 'where the row comes from (a vendor document)'),
    /** true only when the vendor documentation kept in reference/ states it; false needs a caveat */
    confirmed: z.boolean(),
    /** what is not confirmed, shown in the plan (required when confirmed is false) */
    caveat: z.string().min(1).optional(),
  })
  .strict()
  .refine((p) => p.kind !== 'refused' || !!p.wayOut, { message: 'a refused path needs a wayOut', path: ['wayOut'] })
  .refine((p) => p.confirmed || !!p.caveat, { message: 'an unconfirmed row (confirmed: false) needs a caveat saying what is not confirmed', path: ['caveat'] })
  .refine((p) => p.from.length + p.ranges.length > 0, { message: 'a path needs at least one version in from or ranges', path: ['from'] });

const targetSchema = z
  .object({
    id: z.string().min(1),
    aliases: z.array(z.string()).default([]),
    label: z.string().min(1),
    brand: z.string().default('XenServer'),
    product: version,
    platform: version,
    paths: z.array(pathSchema).min(1),
    otherwise: z.object({ rule: ruleId, wayOut: z.string().min(1) }).strict(),
  })
  .strict();

export const upgradePathTableSchema = z.object({ targets: z.array(targetSchema).min(1) }).strict();

export type UpgradePathTable = z.infer<typeof upgradePathTableSchema>;
export type UpgradeTarget = z.infer<typeof targetSchema>;
export type PathKind = 'base-iso' | 'update-iso' | 'refused' | 'done' | 'newer';

export interface HostPath {
  kind: PathKind;
  rule: string;
  note: string;
  wayOut?: string;
  /** the table row's provenance (R1.6); absent for 'done', 'newer' and the `otherwise` refusal */
  source?: string;
  confirmed?: boolean;
  caveat?: string;
  /** refused because no row matches (R1.4's `otherwise`), not by an explicit refused row: a chain may exist */
  noRow?: boolean;
}

/** Found from src/ and from dist/src/ alike. */
export const DEFAULT_PATHS_FILE = projectPath('manifests', 'upgrade-paths.yaml');

export class UpgradePathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UpgradePathError';
  }
}

export function parseUpgradePaths(text: string, source: string): UpgradePathTable {
  let data: unknown;
  try {
    data = YAML.parse(text);
  } catch (e) {
    throw new UpgradePathError(`${source}: not valid YAML: ${(e as Error).message}`);
  }
  const parsed = upgradePathTableSchema.safeParse(data);
  if (!parsed.success) {
    const first = parsed.error.issues
      .map((i) => `${source}: ${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('\n');
    throw new UpgradePathError(first);
  }
  return parsed.data;
}

export function loadUpgradePaths(file: string = DEFAULT_PATHS_FILE): UpgradePathTable {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UpgradePathError(`${file}: cannot read the upgrade-path table (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseUpgradePaths(text, file);
}

/** "7.6", "7.6.0", "lima" → the 7.6 entry; numeric match on id/product, exact match on aliases. */
export function findTarget(table: UpgradePathTable, wanted: string): UpgradeTarget | undefined {
  const w = wanted.trim().toLowerCase();
  const isVersion = /^\d+(\.\d+)*$/.test(w);
  return table.targets.find(
    (t) =>
      t.id.toLowerCase() === w ||
      t.aliases.some((a) => a.toLowerCase() === w) ||
      (isVersion && (compareVersions(t.product, w) === 0 || (/^\d+(\.\d+)*$/.test(t.id) && compareVersions(t.id, w) === 0))),
  );
}

export function targetNames(table: UpgradePathTable): string[] {
  return table.targets.map((t) => `${t.id} (${t.label})`);
}

/** Which path takes a host on `product` to the target (R1.1–R1.4). */
export function resolveHostPath(target: UpgradeTarget, product: string): HostPath {
  const cmp = compareVersions(product, target.product);
  if (cmp === 0) return { kind: 'done', rule: 'R1', note: `already on ${target.product}` };
  if (cmp > 0) {
    return {
      kind: 'newer',
      rule: 'R1.4',
      note: `${product} is newer than the target ${target.product}`,
      wayOut: `choose a target newer than ${product}; a downgrade is not possible`,
    };
  }
  for (const p of target.paths) {
    const hit =
      p.from.some((v) => compareVersions(v, product) === 0) ||
      p.ranges.some((r) => compareVersions(r.min, product) <= 0 && compareVersions(product, r.max) <= 0);
    if (hit) {
      return { kind: p.kind, rule: p.rule, note: p.note, ...(p.wayOut ? { wayOut: p.wayOut } : {}), source: p.source, confirmed: p.confirmed, ...(p.caveat ? { caveat: p.caveat } : {}) };
    }
  }
  const newer = newerVersionsWithPath(target, product);
  // R1.4: "upgrade to a newer version first" — only versions newer than the host that have a path to the target
  const wayOut = newer.length
    ? `upgrade to ${orList(newer)} first (newer than ${product}, with a path to ${target.product}), or ${target.otherwise.wayOut}`
    : `no newer version has a path to ${target.product} in the table: ${target.otherwise.wayOut}`;
  return { kind: 'refused', rule: target.otherwise.rule, note: `no direct path from ${product}`, wayOut, noRow: true };
}

/** Source versions of the target's base-iso/update-iso paths that are newer than `product`, ascending. */
export function newerVersionsWithPath(target: UpgradeTarget, product: string): string[] {
  const out: string[] = [];
  for (const p of target.paths) {
    if (p.kind === 'refused') continue;
    for (const v of p.from) if (compareVersions(v, product) > 0) out.push(v);
    for (const r of p.ranges) if (compareVersions(r.min, product) > 0) out.push(`${r.min}–${r.max}`);
  }
  return [...new Set(out)].sort((a, b) => compareVersions(a.split('–')[0]!, b.split('–')[0]!));
}

const orList = (xs: string[]): string => (xs.length === 1 ? xs[0]! : `${xs.slice(0, -1).join(', ')} or ${xs[xs.length - 1]}`);
