/** Version facts (reference xenapi.md §7): API version per release and the software_version map. */
import { compareVersions } from '../domain/versions';

// 6.5 (Creedence) is 2.3 and 6.5 SP1 (Cream) 2.4, with the same product_version 6.5.0: the simulator models the
// base release (xapi's release_order_full); its platform_version is 1.9.0.
const API_BY_RELEASE: Array<[string, [number, number]]> = [
  ['6.5', [2, 3]],
  ['7.0', [2, 5]],
  ['7.1', [2, 6]],
  ['7.2', [2, 7]],
  ['7.3', [2, 8]],
  ['7.4', [2, 9]],
  ['7.5', [2, 10]],
  ['7.6', [2, 11]],
  ['8.0', [2, 12]],
  ['8.1', [2, 14]],
  ['8.2', [2, 15]],
  ['8.3', [2, 21]],
];

export function apiVersionOf(productVersion: string): [number, number] {
  const mm = productVersion.split('.').slice(0, 2).join('.');
  const exact = API_BY_RELEASE.find(([r]) => r === mm);
  if (exact) return exact[1];
  const older = API_BY_RELEASE.filter(([r]) => compareVersions(r, mm) <= 0);
  return (older[older.length - 1] ?? API_BY_RELEASE[0])[1];
}

export interface InstalledVersion {
  product: string;
  platform: string;
  build: string;
  /** what the installed Xen offers guests, when it changes the host's CPU features */
  cpuFeatures?: string;
}

export function productText(product: string): string {
  const [maj, min, patch] = product.split('.');
  const base = `${maj}.${min ?? '0'}`;
  return Number(patch ?? 0) > 0 ? `${base} CU${patch}` : base;
}

export function softwareVersion(v: InstalledVersion, hostname: string): Record<string, string> {
  const [maj, min] = apiVersionOf(v.product);
  const short = v.product.split('.').slice(0, 2).join('.');
  return {
    product_version: v.product,
    product_version_text: productText(v.product),
    product_version_text_short: short,
    platform_name: 'XCP',
    platform_version: v.platform,
    product_brand: 'XenServer',
    build_number: v.build,
    git_id: `${v.build}-sim`,
    hostname,
    date: '2018-09-13',
    dbv: '2017.0517',
    xapi: `1.${min}`,
    xen: '4.7.6',
    linux: '4.4.0+10',
    xencenter_min: `${maj}.${min}`,
    xencenter_max: `${maj}.${min}`,
    network_backend: 'openvswitch',
    db_schema: '5.120',
  };
}
