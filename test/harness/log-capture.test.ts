/**
 * The console capture every workers test file runs under
 * (test/support/setup-logs.ts): each test sees only its own lines, whatever
 * the console method, and `vi.restoreAllMocks()` does not undo the capture.
 * That a failing test's lines are printed is not asserted here: no test in
 * the suite can fail on purpose.
 */
import { describe, expect, it, vi } from 'vitest';
import { logEvent } from '../../src/log.ts';
import { captureLogs, testEvents, testLines } from '../support/log-capture.ts';

describe('the per-test console capture', () => {
  it('holds every line of the running test, in order, whatever the method', () => {
    console.log('one');
    console.warn('two', { n: 2 });
    console.error(new Error('three'));
    console.info('four');
    console.debug('five');

    const lines = testLines();
    expect(lines.map(({ method }) => method)).toEqual(['log', 'warn', 'error', 'info', 'debug']);
    expect(lines.map(({ text }) => text.split('\n')[0])).toEqual([
      'one',
      'two {"n":2}',
      'Error: three',
      'four',
      'five',
    ]);
  });

  it('starts empty for the next test', () => {
    expect(testLines()).toEqual([]);
  });

  it("parses the edge's JSON events", () => {
    logEvent('login_started', { path: '/auth/login' });
    console.log('not json');

    expect(testEvents()).toEqual([
      { level: 'info', event: 'login_started', path: '/auth/login', time: expect.stringMatching(/Z$/) },
    ]);
  });

  it('keeps capturing after vi.restoreAllMocks()', () => {
    vi.restoreAllMocks();
    console.log('after restore');

    expect(testLines()).toEqual([{ method: 'log', text: 'after restore' }]);
  });

  it('gives captureLogs() the lines written from its creation until restore()', () => {
    console.log('before');
    const capture = captureLogs();
    console.log('{"event":"inside"}');
    capture.restore();
    console.log('after');

    expect(capture.lines()).toEqual([{ method: 'log', text: '{"event":"inside"}' }]);
    expect(capture.events()).toEqual([{ event: 'inside' }]);
    expect(testLines().map(({ text }) => text)).toEqual(['before', '{"event":"inside"}', 'after']);
  });
});
