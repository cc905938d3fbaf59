import { webApi } from '@slack/bolt';
import type { Logger } from '../log';
import { boltLogger } from './bolt-logger';
import type { SlackSettings } from './settings';

/**
 * The WebClient used for everything the bot sends. Its own retries are off: the outbox retries
 * with the injectable clock, honours Retry-After itself and keeps per-channel order.
 */
export function createWebClient(settings: Pick<SlackSettings, 'botToken' | 'slackApiUrl'>, logger: Logger): webApi.WebClient {
  return new webApi.WebClient(settings.botToken, {
    slackApiUrl: settings.slackApiUrl,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    logger: boltLogger(logger, 'slack-web-api'),
    timeout: 30_000,
  });
}

/** Options for Bolt's own client (listener `client`), matching the outbox's policy. */
export function webClientOptions(settings: Pick<SlackSettings, 'slackApiUrl'>): { slackApiUrl?: string; retryConfig: { retries: number }; rejectRateLimitedCalls: boolean; timeout: number } {
  return { slackApiUrl: settings.slackApiUrl, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true, timeout: 30_000 };
}
