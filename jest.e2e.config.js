/** Browser end-to-end tests: need Debian's chromium (installed by .ci/run). */
module.exports = {
  testEnvironment: 'node',
  rootDir: '.',
  roots: ['<rootDir>/test/e2e'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testTimeout: 300000,
  globalSetup: '<rootDir>/test/helpers/global-setup.js',
  reporters: ['default', '<rootDir>/test/helpers/summary-reporter.js'],
  maxWorkers: 1,
};
