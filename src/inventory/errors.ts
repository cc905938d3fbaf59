/**
 * The pool's records cannot be turned into a snapshot: a record the client could not parse (class, ref and field
 * named), or records that are well-formed but inconsistent (no pool record, a master that is not a host).
 * Transport errors (XenApiError, XenApiConnectionError) are not wrapped.
 */
export class InventoryError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InventoryError';
  }
}
