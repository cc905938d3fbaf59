/**
 * Slack request signing (v0): HMAC-SHA256 keyed with the signing secret over `v0:<timestamp>:<raw body>`,
 * sent as `X-Slack-Signature: v0=<hex>` with `X-Slack-Request-Timestamp` (seconds). Bolt verifies exactly this.
 */
import { createHmac } from 'node:crypto';

export function slackSignature(signingSecret: string, timestampSeconds: number, rawBody: string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestampSeconds}:${rawBody}`).digest('hex')}`;
}

/**
 * Headers for a signed POST as Slack sends it. The content type is the bare form type: Bolt parses form bodies
 * only when it is exactly `application/x-www-form-urlencoded` (with `; charset=…` it answers 400).
 */
export function signedHeaders(signingSecret: string, rawBody: string, nowMs: number): Record<string, string> {
  const ts = Math.floor(nowMs / 1000);
  return {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': String(ts),
    'x-slack-signature': slackSignature(signingSecret, ts, rawBody),
    'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
  };
}
