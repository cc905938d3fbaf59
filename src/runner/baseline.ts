/**
 * The pool as it was before a run's first change (issue 11): every guest's power state, host and disks' SRs, HA,
 * and each host's version, enabled flag and boot time. Recorded once, persisted in the run before the first step
 * starts, and compared with the live pool when the run ends (end-audit.ts). Parsed with zod when read back, so a
 * stored record of an unexpected shape is an error naming the field, never a silently wrong audit.
 */
import { z } from 'zod';
import type { PoolBaseline, PoolSnapshot, Run } from '../domain/types';

const baselineSchema: z.ZodType<PoolBaseline> = z
  .object({
    takenAt: z.number(),
    haEnabled: z.boolean(),
    hosts: z.array(
      z
        .object({
          ref: z.string(),
          name: z.string(),
          product: z.string(),
          build: z.string(),
          enabled: z.boolean(),
          live: z.boolean(),
          bootTime: z.number().nullable(),
        })
        .strict(),
    ),
    vms: z.array(
      z
        .object({
          ref: z.string(),
          name: z.string(),
          powerState: z.enum(['Running', 'Halted', 'Suspended', 'Paused']),
          host: z.string().nullable(),
          /** SRs of its disks, with whether each is local (non-shared) and to which host */
          srs: z.array(z.object({ ref: z.string(), name: z.string(), shared: z.boolean(), host: z.string().nullable() }).strict()),
        })
        .strict(),
    ),
  })
  .strict();

export type { PoolBaseline };

export function baselineOf(s: PoolSnapshot): PoolBaseline {
  const srByRef = new Map(s.srs.map((sr) => [sr.ref, sr]));
  return {
    takenAt: s.takenAt,
    haEnabled: s.pool.haEnabled,
    hosts: s.hosts.map((h) => ({
      ref: h.ref,
      name: h.name,
      product: h.version.product,
      build: h.version.build,
      enabled: h.enabled,
      live: h.live,
      bootTime: h.bootTime,
    })),
    vms: s.vms.map((v) => ({
      ref: v.ref,
      name: v.name,
      powerState: v.powerState,
      host: v.residentOn,
      srs: [...new Set(v.disks.map((d) => d.sr))].map((ref) => {
        const sr = srByRef.get(ref);
        return { ref, name: sr?.name ?? ref, shared: sr?.shared ?? false, host: sr && !sr.shared ? (sr.attachedHosts[0] ?? null) : null };
      }),
    })),
  };
}

/** The run's recorded baseline; undefined for a run started before baselines were recorded. Throws on a bad shape. */
export function baselineOfRun(run: Run): PoolBaseline | undefined {
  const raw: unknown = run.baseline;
  if (raw === undefined) return undefined;
  const parsed = baselineSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`run ${run.id} baseline: field ${issue?.path.join('.') || '(record)'}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}
