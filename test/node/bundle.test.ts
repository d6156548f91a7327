/**
 * The Worker bundle uses Web Crypto only (DESIGN.md): `wrangler deploy
 * --dry-run` builds it exactly as a deploy would, and it must not import any
 * Node built-in, nor the dev-only code. It is minified and stays under 50 KB
 * gzip (issue 13: a smaller bundle starts faster), with its source map beside it.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';

const PROJECT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const outdir = mkdtempSync(join(tmpdir(), 'kenni-edge-bundle-'));

afterAll(() => {
  rmSync(outdir, { recursive: true, force: true });
});

describe('the Worker bundle', () => {
  it('builds with wrangler and imports no Node built-in and no dev-only code', async () => {
    const wrangler = join(PROJECT_DIR, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
    await new Promise<void>((resolveBuild, reject) => {
      execFile(
        process.execPath,
        [wrangler, 'deploy', '--dry-run', '--outdir', outdir],
        { cwd: PROJECT_DIR, env: { ...process.env, WRANGLER_SEND_METRICS: 'false' }, timeout: 120_000 },
        (error, _stdout, stderr) =>
          error ? reject(new Error(`wrangler deploy --dry-run failed: ${stderr}`)) : resolveBuild(),
      );
    });
    const bundle = readFileSync(join(outdir, 'index.js'), 'utf8');
    expect(bundle.length).toBeGreaterThan(10_000);
    expect(bundle).not.toMatch(/\bfrom\s*["']node:/);
    expect(bundle).not.toMatch(
      /\brequire\(\s*["'](node:)?(crypto|fs|http|https|net|buffer|path|os|child_process)["']\s*\)/,
    );
    expect(bundle).not.toContain('oidc-provider');
    expect(bundle).toContain('__Host-kenni-session');
  });

  it('is minified, with a source map, and under 50 KB gzip', () => {
    const bundle = readFileSync(join(outdir, 'index.js'));
    // Minified: few lines for ~140 KB (unminified, esbuild writes one statement per line: thousands).
    expect(bundle.toString('utf8').split('\n').length).toBeLessThan(100);
    expect(existsSync(join(outdir, 'index.js.map'))).toBe(true);
    // Measured 48.1 KB (wrangler: "gzip: 47.02 KiB") minified; 79.6 KB without minify.
    expect(gzipSync(bundle).length).toBeLessThan(50_000);
  });
});
