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
