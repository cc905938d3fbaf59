import { z } from 'zod';

/**
 * Environment variables read through a zod schema of their own (the general settings, the XenAPI reply limits,
 * the decode threads): values are trimmed, an empty one counts as unset, and an invalid one is refused with the
 * variable's name and what was expected, never its value.
 */
export function parseEnvVariables<S extends z.AnyZodObject>(schema: S, env: NodeJS.ProcessEnv, fail: (message: string) => Error = (m) => new Error(m)): z.infer<S> {
  const cleaned: Record<string, string> = {};
  for (const k of Object.keys(schema.shape)) {
    const v = env[k]?.trim();
    if (v) cleaned[k] = v;
  }
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) throw fail(parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('\n'));
  return parsed.data;
}

/** A whole number between min and max; `what` says what it counts, in the error. */
export const wholeNumberVariable = (what: string, min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `must be a whole number (${what})`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be between ${min} and ${max} (${what})`);
