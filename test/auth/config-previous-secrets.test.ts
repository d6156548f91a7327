/**
 * `SESSION_SECRET_PREVIOUS` (issue 13, item 7): old session secrets separated by
 * commas or whitespace, each at least 32 characters; a bad entry is a
 * configuration error that names the variable and never echoes a secret.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { parseConfig, type Env } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';
import { createTestEdge } from '../support/edge.ts';
import { captureLogs } from '../support/log-capture.ts';

const CURRENT = 'current-secret-0123456789abcdefghijklmnop';
const OLD_1 = 'old-secret-one-0123456789abcdefghijklmnop';
const OLD_2 = 'old-secret-two-0123456789abcdefghijklmnop';

function envWith(previous: string | undefined): Env {
  return {
    SESSIONS: (env as unknown as Env).SESSIONS,
    KENNI_ISSUER: 'https://idp.kenni.is/team.is',
    KENNI_CLIENT_ID: '@team.is/web',
    SESSION_SECRET: CURRENT,
    ...(previous === undefined ? {} : { SESSION_SECRET_PREVIOUS: previous }),
  } as Env;
}

describe('SESSION_SECRET_PREVIOUS', () => {
  it('is empty by default', () => {
    expect(parseConfig(envWith(undefined)).previousSessionSecrets).toEqual([]);
  });

  it.each([
    ['one secret', OLD_1, [OLD_1]],
    ['commas', `${OLD_1},${OLD_2}`, [OLD_1, OLD_2]],
    ['commas and spaces', ` ${OLD_1} , ${OLD_2} `, [OLD_1, OLD_2]],
    ['newlines and tabs', `${OLD_1}\n\t${OLD_2}\n`, [OLD_1, OLD_2]],
    ['a repeated entry and the current secret (dropped)', `${OLD_1},${OLD_1},${CURRENT}`, [OLD_1]],
  ])('reads %s', (_label, raw, expected) => {
    const config = parseConfig(envWith(raw));
    expect(config.previousSessionSecrets).toEqual(expected);
    expect(Object.isFrozen(config.previousSessionSecrets)).toBe(true);
  });

  it('refuses an entry shorter than 32 characters, naming its position but never its text', () => {
    const short = 'short-old-secret-31-characters!';
    expect(short).toHaveLength(31);
    let error: unknown;
    try {
      parseConfig(envWith(`${OLD_1}, ${short}`));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toEqual([
      {
        variable: 'SESSION_SECRET_PREVIOUS',
        problem: 'entry 2 of 2 is too short (31 characters; at least 32 are needed)',
        fix: expect.stringContaining('wrangler secret put SESSION_SECRET_PREVIOUS'),
      },
    ]);
    expect(JSON.stringify(problems)).not.toContain(short);
    expect(JSON.stringify(problems)).not.toContain(OLD_1);
  });

  it('answers 500 config_invalid without the secret in the response or the log', async () => {
    const capture = captureLogs();
    const short = `too-short-${crypto.randomUUID().slice(0, 8)}`;
    const edge = createTestEdge({ SESSION_SECRET_PREVIOUS: `${OLD_2} ${short}` });

    const response = await edge.fetch('/auth/me');

    expect(response.status).toBe(500);
    const text = await response.text();
    expect(JSON.parse(text)).toMatchObject({
      code: 'config_invalid',
      problems: [{ variable: 'SESSION_SECRET_PREVIOUS' }],
    });
    for (const secret of [short, OLD_2]) {
      expect(text).not.toContain(secret);
      for (const { text: line } of capture.lines()) expect(line).not.toContain(secret);
    }
    expect(capture.lines().some(({ text: line }) => line.includes('SESSION_SECRET_PREVIOUS'))).toBe(true);
  });
});
