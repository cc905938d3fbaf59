/** XenAPI pool simulator (contracts.md §2). */
export { startSimulator } from './simulator';
export type { SimPool, SimHostView, SimVmView, SimInspect, SimControl, StartOptions } from './simulator';
export { loadScenario, parseScenario, ScenarioError, scenarioSchema, faultSchema } from './scenario';
export type { Scenario, ScenarioInput, Fault } from './scenario';
export type { SimStats } from './engine';
export { generateScenario } from './generate';
export { startAdminServer } from './admin-server';
export type { AdminServer } from './admin-server';
export { createTestCa, hostCertificate } from './certs';
export type { TestCa, HostCertificate } from './certs';
