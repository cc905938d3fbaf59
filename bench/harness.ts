/** Small helpers shared by the benchmarks: latency summaries, Markdown tables, finding project files from dist/. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface LatencySummary {
  /** samples summarised */
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Nearest-rank percentile (p in 0..100) of samples already sorted ascending; NaN when there are none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function summarise(samplesMs: readonly number[]): LatencySummary {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return { count: sorted.length, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), maxMs: sorted.length ? sorted[sorted.length - 1] : Number.NaN };
}

/** Milliseconds for a table cell: one decimal below 10 ms, whole numbers above. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return '–';
  return value < 10 ? `${value.toFixed(1)} ms` : `${Math.round(value)} ms`;
}

/** A Markdown table (also readable as plain text in a terminal). Numeric-looking columns are right-aligned. */
export function markdownTable(head: string[], rows: Array<Array<string | number>>): string {
  const cells = rows.map((r) => r.map(String));
  const numeric = head.map((_, i) => cells.length > 0 && cells.every((r) => /^[-–\d.,]+( ms| s|×|%)?( \(.*\))?$/.test(r[i] ?? '')));
  const sep = numeric.map((n) => (n ? '---:' : '---'));
  const line = (r: string[]) => `| ${r.join(' | ')} |`;
  return [line(head), line(sep), ...cells.map(line)].join('\n');
}

/**
 * A file of the project (e.g. manifests/upgrade-paths.yaml) found by walking up from this module, so the
 * benchmarks work both from bench/ (ts-jest) and from dist/bench/ (npm run bench).
 */
export function projectFile(relative: string, from: string = __dirname): string {
  let dir = from;
  for (;;) {
    const candidate = join(dir, relative);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`${relative} not found in ${from} or any parent directory`);
    dir = parent;
  }
}
