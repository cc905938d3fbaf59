import { z } from 'zod';

/**
 * Action ids, view callback ids and button values shared by blocks/ (which render buttons) and
 * listeners/ (which route clicks). A button value carries ids only, never state: every click is
 * re-validated by Core against the stored run.
 */
export const ACTION = {
  planStart: 'plan_start',
  planReplan: 'plan_replan',
  runHold: 'run_hold',
  runResume: 'run_resume',
  runAbort: 'run_abort',
  runRestore: 'run_restore',
  approve: 'approval_approve',
  approvalHold: 'approval_hold',
  approvalAbort: 'approval_abort',
  recoverRetry: 'recover_retry',
  recoverForgetRejoin: 'recover_forget_rejoin',
  recoverRollbackMaster: 'recover_rollback_master',
  recoverSkipHost: 'recover_skip_host',
  recoverSkipUpdate: 'recover_skip_update',
  recoverAbort: 'recover_abort',
  /** R5.1 Tools checklist: stop its reminders (value: runId + stepId "tools-v<version>") */
  toolsDismiss: 'tools_dismiss',
} as const;
export type ActionId = (typeof ACTION)[keyof typeof ACTION];

export const VIEW = {
  forgetRejoin: 'forget_rejoin_modal',
  /** second step: the certificate the bot saw at the address, confirmed by the approver (R4.2) */
  forgetRejoinConfirm: 'forget_rejoin_confirm',
} as const;

/** Block and input ids inside the forget-rejoin modal. */
export const FORGET_REJOIN_INPUT = { block: 'address_block', action: 'address_input' } as const;
/** The fingerprint as read on the host's console, typed or pasted by the approver (confirmation step). */
export const FORGET_REJOIN_CONFIRM_INPUT = { block: 'fingerprint_block', action: 'fingerprint_input' } as const;

const idString = z.string().min(1).max(200).regex(/^[A-Za-z0-9._:@\-]+$/, 'an id (letters, digits, . _ : @ -)');

/**
 * Value of plan buttons (Start, Re-plan): the pool and, for Start, the hash of the plan shown and when it was made
 * (two plans of an unchanged pool have the same hash: the time tells the plan messages apart).
 */
export const planButtonValue = z.object({ pool: idString, planHash: idString.optional(), planAt: z.number().int().nonnegative().optional() }).strict();
export type PlanButtonValue = z.infer<typeof planButtonValue>;

/**
 * Value of run buttons (header, approval, failure alert): the run and, for gates and recovery, the step; a failure
 * alert's also the step's attempt it reports, so that a click on it is refused once the step has failed again.
 */
export const runButtonValue = z.object({ runId: idString, stepId: idString.optional(), attempt: z.number().int().nonnegative().optional() }).strict();
export type RunButtonValue = z.infer<typeof runButtonValue>;

/** Slack's limit for a button value. */
export const MAX_BUTTON_VALUE = 2000;

export function encodeButtonValue(value: PlanButtonValue | RunButtonValue): string {
  const text = JSON.stringify(value);
  if (text.length > MAX_BUTTON_VALUE) throw new Error(`button value is ${text.length} chars, Slack allows ${MAX_BUTTON_VALUE}`);
  return text;
}

/** Parses a clicked button's value; undefined when it is not one this bot produced (forged or corrupted). */
export function decodeButtonValue<T>(schema: z.ZodType<T>, raw: unknown): T | undefined {
  if (typeof raw !== 'string' || raw.length > MAX_BUTTON_VALUE) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return undefined;
  }
  const parsed = schema.safeParse(data);
  return parsed.success ? parsed.data : undefined;
}
