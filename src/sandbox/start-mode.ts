/** Which world `npm start` runs in: the local sandbox (nothing configured) or the real bot (both configured). */
type Env = NodeJS.ProcessEnv;

export const isSet = (env: Env, k: string): boolean => typeof env[k] === 'string' && env[k]!.trim() !== '';

/** Which of the two worlds `npm start` runs in, or why it cannot decide. */
export function chooseMode(env: Env): { mode: 'sandbox' } | { mode: 'real' } | { mode: 'error'; message: string } {
  const slack = isSet(env, 'SLACK_BOT_TOKEN');
  const pools = isSet(env, 'XSUPGRADE_POOLS');
  if (!slack && !pools) return { mode: 'sandbox' };
  if (slack && pools) return { mode: 'real' };
  const missing = slack ? 'XSUPGRADE_POOLS (the pools file, see manifests/pools.example.yaml)' : 'SLACK_BOT_TOKEN (and SLACK_SIGNING_SECRET or SLACK_APP_TOKEN)';
  return {
    mode: 'error',
    message:
      `xsupgrade start: ${slack ? 'Slack tokens are set' : 'XSUPGRADE_POOLS is set'} but ${missing} is not.\n` +
      'Set both to run the real bot, or unset both to run the local sandbox on simulated pools.',
  };
}
