/**
 * The pools file boundary (src/config/pools.ts): errors name the field and what was expected, and never
 * carry a secret the operator mistakenly put in the file (the check that refuses it must not print it).
 */
import { ConfigError, parsePoolsFile } from '../../src/config/pools';

const valid = `
pools:
  - name: pool-a
    masterUrl: https://10.0.0.1
    username: root
    passwordEnv: XS_POOL_A_PASSWORD
    target: "7.6"
    upgrade: { mode: automatic, repositoryUrl: "http://repo.example/xs76/" }
    slack:
      channel: C0123ABCD
      approvers: { users: [U0APPROVER] }
`;

function errorOf(text: string): string {
  try {
    parsePoolsFile(text, 'pools.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('the file was accepted');
}

test('credentials in an http:// masterUrl are refused without printing the password', () => {
  const msg = errorOf(valid.replace('masterUrl: https://10.0.0.1', 'masterUrl: http://root:Hunter2-Secret@10.0.0.1'));
  expect(msg).toMatch(/masterUrl: must not hold credentials/);
  expect(msg).not.toContain('Hunter2-Secret');
});

test('a fingerprint256 of the wrong type names the field and what was expected', () => {
  const msg = errorOf(valid.replace('masterUrl: https://10.0.0.1', 'masterUrl: https://10.0.0.1\n    tls: { mode: pinned, fingerprint256: 5 }'));
  expect(msg).toMatch(/pool pool-a: tls\.fingerprint256: /);
  // zod's bare "Invalid input" says nothing of what is wanted: a fingerprint (or a list of them)
  expect(msg).toMatch(/tls\.fingerprint256: .*(SHA-256|fingerprint|string|array)/);
});

test('an inline password that breaks the YAML is not printed in the error', () => {
  const msg = errorOf(valid.replace('passwordEnv: XS_POOL_A_PASSWORD', 'password: @dm1n-Secret-pw'));
  // where and what, from the parser's first line; not the quoted line under it
  expect(msg).toMatch(/^pools\.yaml: not valid YAML: .*at line \d+, column \d+$/);
  expect(msg).not.toContain('dm1n-Secret-pw');
});
