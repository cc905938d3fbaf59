/**
 * The pools file is validated when it is loaded (`serve`, `start`, every CLI
 * command), and "mistakes each field alone cannot show" are found then, "each naming the pool and the field"
 * (src/config/pools.ts crossFieldChecks, issue 10.11). These entries used to pass the loader although the XenAPI
 * client refuses them at the pool's first use (src/xenapi/tls.ts parseEndpoint), or although they defeat a safety rule.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePoolsFile } from '../../src/config/pools';
import { loadServeConfig } from '../../src/cli/serve';
import { XenApiClient } from '../../src/xenapi';

const pool = (name: string, masterUrl: string, tls = '') => `
  - name: ${name}
    masterUrl: ${masterUrl}
    username: root
    passwordEnv: XS_POOL_PASSWORD
    target: "7.6"
${tls}    upgrade: { mode: manual }
    slack:
      channel: C0123ABCD
      approvers: { users: [U0APPROVER] }
`;
const file = (...pools: string[]) => `pools:${pools.join('')}`;

/** What loading the file says: the error message, or '' when it was accepted. */
function loadError(text: string): string {
  try {
    parsePoolsFile(text, 'pools.yaml');
    return '';
  } catch (e) {
    return (e as Error).message;
  }
}

describe('a masterUrl the XenAPI client cannot use is refused when the pools file is loaded', () => {
  it('an https:// masterUrl with tls mode insecure-http', () => {
    const text = file(pool('pool-a', 'https://10.0.0.1', '    tls: { mode: insecure-http }\n'));
    // the client refuses it at the first plan (what the operator meets today, in Slack, long after start-up)
    expect(() => new XenApiClient({ url: 'https://10.0.0.1', username: 'root', password: 'x', tls: { mode: 'insecure-http' } })).toThrow(/only for http:\/\/ URLs/);
    expect(loadError(text)).toMatch(/pools\.yaml: pool pool-a: tls\.mode/);
  });

  it.each(['https://a#b', 'https://a?x=1', 'https://[::1', 'https://a<b>'])('%s (a fragment, a query, a broken address)', (url) => {
    expect(loadError(file(pool('pool-a', url)))).toMatch(/pools\.yaml: pool pool-a: masterUrl/);
  });

  it('a port outside 1–65535', () => {
    const text = file(pool('pool-a', 'https://10.0.0.1:99999'));
    expect(() => new XenApiClient({ url: 'https://10.0.0.1:99999', username: 'root', password: 'x' })).toThrow(/not a valid URL/);
    expect(loadError(text)).toMatch(/pools\.yaml: pool pool-a: masterUrl/);
  });

  it('`serve` refuses to start on such a file instead of reporting it ready', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xsupgrade-pools-'));
    try {
      const path = join(dir, 'pools.yaml');
      writeFileSync(path, file(pool('pool-a', 'https://10.0.0.1', '    tls: { mode: insecure-http }\n')));
      const loaded = loadServeConfig({
        XSUPGRADE_POOLS: path,
        XS_POOL_PASSWORD: 'secret-pw',
        SLACK_BOT_TOKEN: 'xoxb-123-456-abc',
        SLACK_SIGNING_SECRET: '0123456789abcdef0123456789abcdef',
      });
      expect(loaded.ok).toBe(false);
      if (!loaded.ok) expect(loaded.problems.join('\n')).toMatch(/pool pool-a: tls\.mode/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * Runs are serialised by a lease per pool NAME (src/store, "one lease per pool"): two entries for the same master
 * are two pools to the bot, so two runs could take hosts of the one XenServer pool down at the same time (R3.1).
 * A duplicate name is refused; the same master under two names must be too.
 */
it.each([
  ['https://10.0.0.1', 'https://10.0.0.1'],
  ['https://10.0.0.1', 'https://10.0.0.1:443/'],
  ['https://XS-1.example', 'https://xs-1.example'],
])('the same master under two pool names is refused, naming the field (%s, %s)', (a, b) => {
  const text = file(pool('pool-a', a), pool('pool-a-copy', b));
  expect(loadError(text)).toMatch(/pool pool-a-copy: masterUrl: the same master as pool pool-a .*\(R3\.1\)/);
});

it('two masters on one address but different ports are two pools', () => {
  expect(loadError(file(pool('pool-a', 'https://10.0.0.1'), pool('pool-b', 'https://10.0.0.1:8443')))).toBe('');
});
