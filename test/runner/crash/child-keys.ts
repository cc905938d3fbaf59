/**
 * The kill key of a mid-step label: its step kind — and for the upgrade step, where a replayed shutdown would be
 * the worst outcome, every point inside it (before/after the plugin call, the marker, the reboot call).
 */
export function midKey(label: string): string {
  const parts = label.split(':');
  const single = label.startsWith('pool-') || label.startsWith('backup');
  const kind = single ? parts[0]! : parts[1]!;
  const rest = parts.slice(single ? 1 : 2).join(':');
  return kind === 'upgrade' ? `upgrade:${rest}` : kind;
}
