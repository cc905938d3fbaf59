/**
 * High-availability tests (issue 16): need a PostgreSQL server (XSUPGRADE_TEST_PG, default the local cluster on
 * 127.0.0.1:5432 that .ci/run starts). Not part of `npm test`, which needs only Node.
 */
module.exports = {
  testEnvironment: 'node',
  rootDir: '.',
  roots: ['<rootDir>/test/ha'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testTimeout: 180000,
  globalSetup: '<rootDir>/test/helpers/global-setup.js',
  reporters: ['default', '<rootDir>/test/helpers/summary-reporter.js'],
  maxWorkers: 1,
};
