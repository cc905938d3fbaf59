/**
 * `obj[key] = value` as an own property, as JSON.parse makes it, whatever the key. A reply's struct keys and a
 * get_all_records reply's refs are the host's text: assigned, "__proto__" would set the object's prototype instead,
 * losing the value and making every missing key find the value's fields.
 */
export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

/** Object.assign(target, source) with setOwn's rule for "__proto__" (Object.assign sets the prototype). */
export function assignOwn(target: Record<string, unknown>, source: Record<string, unknown>): void {
  if (!Object.hasOwn(source, '__proto__')) {
    Object.assign(target, source);
    return;
  }
  for (const [key, value] of Object.entries(source)) setOwn(target, key, value);
}
