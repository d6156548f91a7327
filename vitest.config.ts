import { cloudflareTest } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';

/** Secrets the worker under test uses; test-only values, never deployed. */
const TEST_SECRETS = {
  SESSION_SECRET: 'test-session-secret-0123456789-abcdefghijklmnop',
  KENNI_CLIENT_SECRET: 'dev-web-secret-change-me',
  KENNI_M2M_CLIENT_ID: '@dev-team.is/m2m',
  KENNI_M2M_CLIENT_SECRET: 'm2m:s3cret+%/x=',
};

export default defineConfig({
  test: {
    projects: [
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            // Test-only bindings and settings; the deploy wrangler.toml is not read.
            wrangler: { configPath: './test/wrangler.test.toml' },
            miniflare: {
              bindings: {
                ...TEST_SECRETS,
                KENNI_ISSUER: inject('kenniIssuer'),
                ORIGIN_URL: inject('demoOriginUrl'),
                EDGE_SIGNING_KEY: inject('edgeSigningKey'),
              },
            },
          })),
        ],
        test: {
          name: 'workers',
          globalSetup: ['./test/support/global-setup.ts'],
          // Buffers each test's console lines; prints them only when the test fails.
          setupFiles: ['./test/support/setup-logs.ts'],
          include: ['test/**/*.test.ts'],
          exclude: ['test/node/**', 'node_modules/**'],
          // A few tests send thousands of requests; on a busy 2-core machine they pass in 5-8 s. Time in the
          // tests themselves is faked, so this bound only guards against hangs.
          testTimeout: 30_000,
        },
      },
      {
        // Node-side tests: `npm run dev` driven in a real browser (Chromium).
        test: {
          name: 'node',
          include: ['test/node/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
