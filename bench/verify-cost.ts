/**
 * Per-verification CPU cost of `verifyAccessToken` inside workerd, for RS256
 * and ES256: a loop of N verifications in one request, timed from outside
 * against the same request with N = 0.
 *
 *   npm run bench:verify      (VERIFY_N to change N, default 2000)
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { median } from './load.ts';
import { startBenchStack } from './stack.ts';

const N = Number(process.env.VERIFY_N ?? 2000);
const ISSUER = 'https://idp.kenni.is/bench-team.is';
const keys = await Promise.all(
  (['RS256', 'ES256'] as const).map(async (alg) => {
    const { privateKey, publicKey } = await generateKeyPair(alg);
    return { alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid: `bench-${alg}`, alg, use: 'sig' } };
  }),
);
const jwksServer = createServer((_request, response) => {
  response.writeHead(200, { 'content-type': 'application/json' });
  response.end(JSON.stringify({ keys: keys.map((key) => key.jwk) }));
});
await new Promise<void>((resolveListen) => jwksServer.listen(0, '127.0.0.1', resolveListen));
const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks`;

const stack = await startBenchStack({
  main: 'bench/verify-cost.worker.ts',
  vars: { KENNI_ISSUER: ISSUER, KENNI_API_SCOPE: '' },
});
try {
  console.log(
    `verifyAccessToken inside workerd (wrangler dev), ${N} verifications per request, median of 7 requests\n`,
  );
  for (const key of keys) {
    const sign = (jti: string) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ scope: 'openid @dev-team.is/api.read', client_id: '@dev-team.is/m2m', jti })
        .setProtectedHeader({ alg: key.alg, kid: key.jwk.kid, typ: 'at+jwt' })
        .setIssuer(ISSUER)
        .setAudience('@dev-team.is/web-api')
        .setSubject('bench')
        .setIssuedAt(now)
        .setExpirationTime(now + 3600)
        .sign(key.privateKey);
    };
    const warmup = await sign('warmup');
    const base = `${stack.edge}/?jwks=${encodeURIComponent(jwksUrl)}&warmup=${warmup}`;
    const timed = async (input: string, init?: RequestInit) => {
      const started = performance.now();
      const response = await fetch(input, init);
      if (response.status !== 200) throw new Error(`${key.alg}: ${response.status} ${await response.text()}`);
      await response.text();
      return performance.now() - started;
    };
    // Full verification: N distinct tokens, each verified once.
    const emptyPost: number[] = [];
    const fullPost: number[] = [];
    for (let i = 0; i < 7; i++) {
      const tokens = await Promise.all(Array.from({ length: N }, (_, index) => sign(`${i}-${index}`)));
      emptyPost.push(await timed(base, { method: 'POST', body: JSON.stringify(tokens.map(() => warmup)) }));
      fullPost.push(await timed(base, { method: 'POST', body: JSON.stringify(tokens) }));
    }
    // The same token again and again: the remembered-token path.
    const token = await sign('repeat');
    const emptyGet: number[] = [];
    const repeatGet: number[] = [];
    for (let i = 0; i < 7; i++) {
      emptyGet.push(await timed(`${base}&token=${token}&n=0`));
      repeatGet.push(await timed(`${base}&token=${token}&n=${N}`));
    }
    const full = ((median(fullPost) - median(emptyPost)) * 1000) / N;
    const repeat = ((median(repeatGet) - median(emptyGet)) * 1000) / N;
    console.log(
      `${key.alg}: ${full.toFixed(1)} µs per full verification (distinct tokens), ${repeat.toFixed(1)} µs per repeated token`,
    );
  }
} finally {
  await stack.stop();
  jwksServer.close();
}
