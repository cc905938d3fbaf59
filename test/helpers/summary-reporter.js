/**
 * Prints one plain closing line, "jest: N passed, N failed, N skipped", that CI reads to know how many tests ran
 * (jest's own summary is not in the list of runners CI recognises). With XSUPGRADE_TEST_SUMMARY set to a file,
 * the counts are also appended there, so .ci/run can print the total of all its test runs last.
 */
const { appendFileSync } = require('node:fs');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const line = `${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped`;
    process.stderr.write(`\njest: ${line}\n`);
    if (process.env.XSUPGRADE_TEST_SUMMARY) appendFileSync(process.env.XSUPGRADE_TEST_SUMMARY, `${line}\n`);
  }
}
module.exports = SummaryReporter;
