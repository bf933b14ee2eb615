import type { Reporter, TestCase } from 'vitest/node';

/**
 * Names every test that failed and then passed on its retry, at the end of the run. A test
 * whose timing depends on the machine's load may fail once on a loaded CI machine; the retry
 * keeps one such stumble from failing the run, and this list keeps it from going unseen.
 */
export default class FlakyReporter implements Reporter {
  private readonly flaky: string[] = [];

  onTestCaseResult(testCase: TestCase): void {
    const diagnostic = testCase.diagnostic();
    if (diagnostic?.flaky) this.flaky.push(`${testCase.module.moduleId.replace(`${process.cwd()}/`, '')} > ${testCase.fullName} (passed after ${diagnostic.retryCount} retr${diagnostic.retryCount === 1 ? 'y' : 'ies'})`);
  }

  onTestRunEnd(): void {
    if (this.flaky.length === 0) {
      console.log('flaky tests: none (every test passed on its first try)');
      return;
    }
    console.log(`flaky tests: ${this.flaky.length} failed first and passed on retry:`);
    for (const line of this.flaky) console.log(`  ${line}`);
  }
}
