/**
 * Vitest setup file of the workers project: every console line a test writes
 * is buffered (test/support/log-capture.ts), dropped when the test passes and
 * printed when it fails, so a green run prints no JSON log line. Lines written
 * outside a test (module scope, `beforeAll`, `afterAll`) are printed at the end
 * of the file only when something in it failed.
 */
import { afterAll, beforeEach } from 'vitest';
import { beginTestLogs, endFileLogs, endTestLogs, installLogCapture } from './log-capture.ts';

installLogCapture();

beforeEach((context) => {
  // Vitest may install a fresh console per file; wrap whichever is current.
  installLogCapture();
  beginTestLogs();
  context.onTestFinished(() => endTestLogs(context.task.result?.state === 'fail'));
});

afterAll(({}, suite) => {
  endFileLogs(anyFailed(suite));
});

/** Whether a task or anything under it failed. */
function anyFailed(task: { result?: { state?: string }; tasks?: unknown[] }): boolean {
  if (task.result?.state === 'fail') return true;
  return (task.tasks ?? []).some((child) => anyFailed(child as { result?: { state?: string }; tasks?: unknown[] }));
}
