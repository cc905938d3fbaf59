/** pool-a-20261125-1: the pool, the UTC date of `now` (yyyymmdd) and the day's counter. Pure. */
export function formatRunId(pool: string, now: number, counter: number): string {
  const day = new Date(now).toISOString().slice(0, 10).replace(/-/g, '');
  return `${pool}-${day}-${counter}`;
}
