import { findTarget, parseUpgradePaths, resolveHostPath } from '../../src/planner/paths';
import { PATHS } from './helpers';

describe('upgrade-path table (R1)', () => {
  const t76 = findTarget(PATHS, '7.6')!;
  const t82 = findTarget(PATHS, '8.2.1')!;

  it('finds targets by id, product version and alias', () => {
    expect(t76.product).toBe('7.6.0');
    expect(t76.platform).toBe('2.7.0');
    expect(findTarget(PATHS, '7.6.0')).toBe(t76);
    expect(findTarget(PATHS, 'lima')).toBe(t76);
    expect(t82.label).toBe('Citrix Hypervisor 8.2 CU1');
    expect(t82.platform).toBe('3.2.1');
    expect(findTarget(PATHS, '8.2 CU1')).toBe(t82);
    expect(findTarget(PATHS, '9.9')).toBeUndefined();
  });

  it.each([
    ['7.0.0', 'base-iso', 'R1.1'],
    ['7.1.1', 'base-iso', 'R1.1'],
    ['7.1.2', 'base-iso', 'R1.1'],
    ['7.1.0', 'refused', 'R1.2'],
    ['7.4.0', 'update-iso', 'R1.3'],
    ['7.5.0', 'update-iso', 'R1.3'],
    ['7.2.0', 'refused', 'R1.4'],
    ['6.5.0', 'refused', 'R1.4'],
    ['7.6.0', 'done', 'R1'],
    ['8.0.0', 'newer', 'R1.4'],
  ])('7.6: %s → %s (%s)', (from, kind, rule) => {
    const p = resolveHostPath(t76, from);
    expect(p.kind).toBe(kind);
    expect(p.rule).toBe(rule);
    if (kind === 'refused') expect(p.wayOut).toBeTruthy();
  });

  it('R1.2 way out is to apply CU1; R1.4 names both ways out', () => {
    expect(resolveHostPath(t76, '7.1.0').wayOut).toMatch(/Cumulative Update 1/);
    const w = resolveHostPath(t76, '7.3.0').wayOut!;
    expect(w).toMatch(/^upgrade to 7\.4\.0 or 7\.5\.0 first \(newer than 7\.3\.0, with a path to 7\.6\.0\)/);
    expect(w).toMatch(/clean install.*export\/import/);
  });

  it('R1.4 names only versions newer than the host that have a path to the target (never 7.0 or 7.1 to a 7.2 host)', () => {
    expect(resolveHostPath(t76, '7.2.0').wayOut).toMatch(/^upgrade to 7\.4\.0 or 7\.5\.0 first/);
    expect(resolveHostPath(t76, '7.2.0').wayOut).not.toMatch(/7\.0|7\.1/);
    // 7.1.0 (refused itself, R1.2) is no way out; 7.0.0 and above are
    expect(resolveHostPath(t76, '6.5.0').wayOut).toMatch(/^upgrade to 7\.0\.0, 7\.1\.1, 7\.1\.2, 7\.4\.0 or 7\.5\.0 first/);
    const t82 = findTarget(PATHS, '8.2.1')!;
    expect(resolveHostPath(t82, '7.3.0').wayOut).toMatch(/^upgrade to 8\.0\.0, 8\.1\.0 or 8\.2\.0 first/);
  });

  it('compares numerically, never as strings', () => {
    // as strings "7.10.0" < "7.6.0"; numerically it is newer
    expect(resolveHostPath(t76, '7.10.0').kind).toBe('newer');
    expect(resolveHostPath(t76, '7.1').kind).toBe('refused'); // "7.1" is 7.1.0, no CU1
    expect(resolveHostPath(t76, '7.0').kind).toBe('base-iso');
  });

  it.each([
    ['7.1.2', 'base-iso'],
    ['8.0.0', 'base-iso'],
    ['8.1.0', 'base-iso'],
    ['8.2.0', 'update-iso'],
    ['7.1.1', 'refused'],
    ['7.6.0', 'refused'],
    ['8.2.1', 'done'],
  ])('8.2 CU1: %s → %s', (from, kind) => {
    expect(resolveHostPath(t82, from).kind).toBe(kind);
  });

  it('rejects a malformed table naming the field', () => {
    expect(() => parseUpgradePaths('targets:\n  - id: x\n    label: X\n    product: 1.0\n    platform: 1.0.0\n    paths: []\n', 'f.yaml')).toThrow(
      /f\.yaml: targets\.0\./,
    );
    const refusedNoWayOut =
      'targets:\n  - id: "1"\n    label: X\n    product: "1.0.0"\n    platform: "1.0.0"\n    paths:\n      - {kind: refused, rule: R1.2, from: ["0.9.0"], source: s, confirmed: true}\n    otherwise: {rule: R1.4, wayOut: w}\n';
    expect(() => parseUpgradePaths(refusedNoWayOut, 'g.yaml')).toThrow(/g\.yaml: targets\.0\.paths\.0\.wayOut: a refused path needs a wayOut/);
  });
});
