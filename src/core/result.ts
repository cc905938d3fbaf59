import type { CoreErrorCode, CoreResult } from '../domain/ports';

/** A core action's answer: what it did, or why it refused (the code tells interfaces how to show it). */
export const ok = <T>(value: T): CoreResult<T> => ({ ok: true, value });
export const fail = <T>(code: CoreErrorCode, error: string): CoreResult<T> => ({ ok: false, code, error });
