import { DEFAULT_DIRECTORY } from '../../src/sandbox/directory';
import { demoManifests, demoPoolEntry, demoPoolsFile, findDemoManifestDir, passwordEnvName } from '../../src/sandbox/demo-config';
import { chooseMode } from '../../src/sandbox/start-mode';

const src = {
  name: 'pool-a',
  masterUrl: 'http://127.9.9.1:40000',
  username: 'root',
  repositories: [
    { url: 'http://repo.example.com/broken/', version: '8.0.0', reachable: false },
    { url: 'http://repo.example.com/xenserver/7.6/', version: '7.6.0', reachable: true },
  ],
  updates: [],
};

describe('generated demo pools config', () => {
  it('targets the first reachable repository in automatic mode, approvers are the sandbox group, no self-approval', () => {
    expect(demoPoolEntry(src, DEFAULT_DIRECTORY)).toMatchObject({
      name: 'pool-a',
      target: '7.6',
      upgrade: { mode: 'automatic', repositoryUrl: 'http://repo.example.com/xenserver/7.6/' },
      tls: { mode: 'insecure-http' },
      passwordEnv: 'XSUPGRADE_DEMO_POOL_A_PASSWORD',
      slack: { channel: 'C0XSUPGRADE', approvers: { users: [], groups: ['S0OPSLEADS'] }, allowSelfApproval: false },
    });
  });
  it('an unreachable repository keeps automatic mode (its plan blocks on testUrl, R3.9), never a silent switch to manual', () => {
    const broken = { ...src, repositories: [src.repositories[0]!] };
    expect(demoPoolEntry(broken, DEFAULT_DIRECTORY).upgrade).toEqual({ mode: 'automatic', repositoryUrl: 'http://repo.example.com/broken/' });
  });
  it('falls back to update mode, then manual mode', () => {
    expect(demoPoolEntry({ ...src, repositories: [], updates: [{ name: 'XS71ECU2001', version: '7.1.2' }] }, DEFAULT_DIRECTORY)).toMatchObject({
      upgrade: { mode: 'update', updateIso: 'XS71ECU2001' },
      target: '7.1.2',
    });
    expect(demoPoolEntry({ ...src, repositories: [], updates: [] }, DEFAULT_DIRECTORY).upgrade).toEqual({ mode: 'manual' });
  });
  it('is valid for the real pools-file parser and carries no password', () => {
    const { yaml, pools } = demoPoolsFile([src, { ...src, name: 'pool-b', masterUrl: 'http://127.9.9.2:40000' }], DEFAULT_DIRECTORY); // each demo pool has its own simulator
    expect(pools.map((p) => p.name)).toEqual(['pool-a', 'pool-b']);
    expect(yaml).not.toMatch(/password:/i);
    expect(passwordEnvName('pool-b')).toBe('XSUPGRADE_DEMO_POOL_B_PASSWORD');
  });
  it('finds the demo manifests of the repository', () => {
    const files = demoManifests(findDemoManifestDir());
    expect(files.some((f) => f.endsWith('manifests/demo/pool-a.yaml'))).toBe(true);
  });
});

describe('npm start mode', () => {
  it('sandbox with neither Slack tokens nor a pools file; real bot with both; an error naming what is missing otherwise', () => {
    expect(chooseMode({})).toEqual({ mode: 'sandbox' });
    expect(chooseMode({ SLACK_BOT_TOKEN: ' ', XSUPGRADE_POOLS: '' })).toEqual({ mode: 'sandbox' });
    expect(chooseMode({ SLACK_BOT_TOKEN: 'xoxb-1', XSUPGRADE_POOLS: '/etc/pools.yaml' })).toEqual({ mode: 'real' });
    const onlySlack = chooseMode({ SLACK_BOT_TOKEN: 'xoxb-1' });
    expect(onlySlack).toMatchObject({ mode: 'error', message: expect.stringContaining('XSUPGRADE_POOLS') });
    const onlyPools = chooseMode({ XSUPGRADE_POOLS: '/etc/pools.yaml' });
    expect(onlyPools).toMatchObject({ mode: 'error', message: expect.stringContaining('SLACK_BOT_TOKEN') });
  });
});
