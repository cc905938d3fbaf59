import { compareVersions, parseVersion } from '../../src/domain/versions';

describe('compareVersions (R1: numeric, never string order)', () => {
  it.each([
    ['7.10.0', '7.9.0', 1],
    ['7.6', '7.6.0', 0],
    ['7.1.1', '7.1.0', 1],
    ['2.1.1', '2.7.0', -1],
    ['8.2.1', '8.2.1', 0],
    ['', '0.0.0', 0],
  ])('%s vs %s → %i', (a, b, expected) => {
    expect(compareVersions(a, b)).toBe(expected);
    expect(compareVersions(b, a)).toBe(-expected || 0);
  });

  it('treats a missing platform version as 0.0.0, as xapi does', () => {
    expect(parseVersion(undefined)).toEqual([0, 0, 0]);
    expect(compareVersions(undefined, '2.1.1')).toBe(-1);
  });
});
