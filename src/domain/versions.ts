/** Dotted versions ("7.1.1", "2.7.0") compared numerically, never as strings (R1). */
export function parseVersion(v: string | undefined | null): number[] {
  if (!v) return [0, 0, 0];
  return v.split('.').map((p) => {
    const n = Number.parseInt(p, 10);
    return Number.isFinite(n) ? n : 0;
  });
}

export function compareVersions(a: string | undefined | null, b: string | undefined | null): number {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  const len = Math.max(pa.length, pb.length);
  for (let i = 0; i < len; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/**
 * The RPU hotfix XenCenter requires on a host before an automatic upgrade (HotfixFactory.cs): RPU003 on 7.0,
 * RPU004 on 7.1-7.6. It brings the prepare_host_upgrade.py plugin the automatic mode relies on; an older plugin
 * lacks functions (UNKNOWN_XENAPI_PLUGIN_FUNCTION) and handles repositories differently. null: none needed.
 */
export function rpuHotfixFor(product: string): string | null {
  const [maj, min] = product.split('.').map(Number);
  if (maj !== 7 || min === undefined || Number.isNaN(min) || min > 6) return null;
  return min === 0 ? 'RPU003' : 'RPU004';
}
