import { z } from 'zod';
import type { AuditEvent, Plan, PoolBaseline, Run } from '../domain/types';
import type { StoredRunHead, StoredStep } from './run-parts';
import type { Lease, OutboxRecord, Schedule } from './types';
import { StoreCorruptError } from './types';

/**
 * Cheap read-back validation: the fields other code branches on are checked, the rest passes through.
 * A failure names the key and the field (StoreCorruptError).
 */

const runStates = ['running', 'awaiting-approval', 'paused', 'failed', 'done', 'aborted', 'rolled-back'] as const;
const stepStates = ['pending', 'running', 'awaiting-approval', 'done', 'failed', 'skipped'] as const;

const planSchema = z
  .object({
    id: z.string().min(1),
    pool: z.string().min(1),
    executable: z.boolean(),
    hosts: z.array(z.object({ host: z.string(), name: z.string() }).passthrough()),
    steps: z.array(z.object({ id: z.string(), kind: z.string() }).passthrough()),
    prechecks: z.array(z.object({ id: z.string(), severity: z.string() }).passthrough()),
  })
  .passthrough();

const stepRecordSchema = z
  .object({
    id: z.string().min(1),
    kind: z.string().min(1),
    state: z.enum(stepStates),
    attempts: z.number().int().nonnegative(),
    startedAt: z.number().optional(),
    endedAt: z.number().optional(),
  })
  .passthrough();

/** R5.1 Tools follow-up (src/tools/follow-up.ts): the fields its decisions branch on */
const toolsFollowUpSchema = z
  .object({
    needed: z.string().min(1),
    openedAt: z.number(),
    pending: z.array(z.object({ vm: z.string(), uuid: z.string(), current: z.string().nullable(), needed: z.string() }).passthrough()),
    done: z.array(z.string()),
    version: z.number().int().nonnegative(),
    shownVersion: z.number().int().nonnegative(),
    dismissed: z.object({ by: z.string(), at: z.number() }).optional(),
  })
  .passthrough();

const runSchema = z
  .object({
    id: z.string().min(1),
    pool: z.string().min(1),
    plan: planSchema,
    planHash: z.string(),
    requestedBy: z.string(),
    state: z.enum(runStates),
    steps: z.array(stepRecordSchema),
    approvals: z.array(z.object({ stepId: z.string(), decision: z.string(), by: z.string(), at: z.number() }).passthrough()),
    createdAt: z.number(),
    updatedAt: z.number(),
    endedAt: z.number().optional(),
    revision: z.number().int().nonnegative(),
    pausedBy: z.object({ userId: z.string(), source: z.enum(['slack', 'cli', 'scheduler', 'sandbox']), at: z.number() }).optional(),
    toolsFollowUp: toolsFollowUpSchema.optional(),
    poolUuid: z.string().min(1).optional(),
  })
  .passthrough();

/**
 * the head of a run (./run-parts.ts): its steps' revisions instead of its steps; a head written before the split
 * holds its plan and steps (and baseline) inline instead
 */
const runHeadSchema = runSchema
  .extend({
    plan: planSchema.optional(),
    steps: z.array(stepRecordSchema).optional(),
    hasBaseline: z.literal(true).optional(),
    stepRevs: z.array(z.number().int().nonnegative()).optional(),
  })
  .refine((h) => h.stepRevs !== undefined || (h.plan !== undefined && h.steps !== undefined), {
    message: 'expected stepRevs, or (written before issue 13) the plan and the steps inline',
  });

const storedStepSchema = z.object({ rev: z.number().int().nonnegative(), step: stepRecordSchema }).strict();

/** the fields of a baseline the store relies on; src/runner/baseline.ts checks the rest where it is used */
const baselineSchema = z.object({ takenAt: z.number(), hosts: z.array(z.unknown()), vms: z.array(z.unknown()) }).passthrough();

const auditSchema = z
  .object({
    at: z.number(),
    runId: z.string().min(1),
    kind: z.enum(['state', 'step', 'approval', 'xenapi', 'refused', 'lease', 'resume', 'recovery', 'notify']),
    actor: z.string(),
    message: z.string(),
    detail: z.record(z.unknown()).optional(),
  })
  .strict();

const leaseSchema = z.object({ owner: z.string().min(1), runId: z.string().min(1), expiresAt: z.number(), token: z.number().int().nonnegative().optional() }).strict();

const windowSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('once'), startAt: z.number(), endAt: z.number().optional() }).strict(),
  z
    .object({
      kind: z.literal('cron'),
      cron: z.string().min(1),
      durationMs: z.number().positive().optional(),
      endTime: z.object({ hour: z.number().int(), minute: z.number().int() }).strict().optional(),
    })
    .strict(),
]);

const scheduleSchema = z
  .object({
    id: z.string().min(1),
    pool: z.string().min(1),
    whenText: z.string(),
    untilText: z.string().optional(),
    timezone: z.string().min(1),
    window: windowSchema,
    approvedPlan: planSchema,
    createdBy: z.string(),
    createdAt: z.number(),
    updatedAt: z.number(),
    state: z.enum(['scheduled', 'active', 'done', 'blocked', 'missed', 'failed']),
    nextStartAt: z.number().optional(),
    current: z.object({ startAt: z.number(), endAt: z.number().optional(), runId: z.string().optional() }).strict().optional(),
    runId: z.string().optional(),
    note: z.string().optional(),
  })
  .strict();

const outboxRefSchema = z.object({ runId: z.string().min(1), key: z.string().min(1).optional() }).strict();

const outboxSchema = z
  .object({
    id: z.string().regex(/^\d+$/, 'expected a sequence number'),
    queue: z.string().min(1),
    describe: z.string(),
    coalesceKey: z.string().optional(),
    request: z
      .object({
        method: z.enum(['chat.postMessage', 'chat.update', 'chat.postEphemeral']),
        args: z.record(z.unknown()),
        refArgs: z.record(outboxRefSchema).optional(),
      })
      .strict(),
    provides: outboxRefSchema.optional(),
    degradable: z.boolean().optional(),
    createdAt: z.number(),
    priority: z.number().int().min(0).max(9).optional(),
    group: z.string().min(1).optional(),
    requester: z.string().min(1).optional(),
    owner: z.string().min(1).optional(),
    revision: z.number().int().nonnegative().optional(),
  })
  .strict();

const counterSchema = z.number().int().nonnegative();

function check<T>(schema: z.ZodTypeAny, key: string, value: unknown): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    const detail = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new StoreCorruptError(key, detail);
  }
  // keep the original object (passthrough fields intact, no extra copy)
  return value as T;
}

export const validate = {
  run: (key: string, v: unknown) => check<Run>(runSchema, key, v),
  runHead: (key: string, v: unknown) => check<StoredRunHead>(runHeadSchema, key, v),
  step: (key: string, v: unknown) => check<StoredStep>(storedStepSchema, key, v),
  baseline: (key: string, v: unknown) => check<PoolBaseline>(baselineSchema, key, v),
  plan: (key: string, v: unknown) => check<Plan>(planSchema, key, v),
  audit: (key: string, v: unknown) => check<AuditEvent>(auditSchema, key, v),
  lease: (key: string, v: unknown) => check<Lease>(leaseSchema, key, v),
  schedule: (key: string, v: unknown) => check<Schedule>(scheduleSchema, key, v),
  counter: (key: string, v: unknown) => check<number>(counterSchema, key, v),
  outbox: (key: string, v: unknown) => check<OutboxRecord>(outboxSchema, key, v),
};

/** keyv's stored form is `{"value": …}` (our serialize is plain JSON); the atomic paths read and write the same. */
export function encode(value: unknown): string {
  return JSON.stringify({ value });
}

export function decode(key: string, raw: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    throw new StoreCorruptError(key, `not JSON (${(e as Error).message})`);
  }
  if (!parsed || typeof parsed !== 'object' || !('value' in parsed)) {
    throw new StoreCorruptError(key, 'expected an object {"value": …}');
  }
  return (parsed as { value: unknown }).value;
}
