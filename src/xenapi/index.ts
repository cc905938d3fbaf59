/** Public API of the XenAPI client (contracts.md §1). */
export { XenApiClient } from './client';
export type { XenApiClientOptions, CallOptions, EventFromResult, TaskWaitOptions } from './client';
export {
  XenApiError,
  XenApiConnectionError,
  XenApiReconnectTimeoutError,
  XenApiTimeoutError,
  XenApiTaskLostError,
  XenApiTlsError,
  XenApiProtocolError,
  isXenApiError,
} from './errors';
export type { TlsOptions, Endpoint } from './tls';
export { TlsConfigError, parseEndpoint, hostUrl, normalizeFingerprint } from './tls';
export { probeHost, HostProbeError } from './probe';
export type { HostProbe, PeerCertificateInfo } from './probe';
export { EventWatcher, waitFor, eventRecord } from './events';
export type { XenEvent, EventWatcherOptions, WaitForOptions, EventSource } from './events';
export { deadlineIn } from './deadline';
export type { DbDumpResult } from './db-dump';
export { double, XmlRpcDouble, decodeTaskResult } from './wire';
export * from './records';
