/**
 * A tiny assertion verifier for nginx `auth_request`: 204 with `X-Kenni-Verified-Sub`
 * when the request's `X-Kenni-Assertion` verifies (see kenni-assertion.ts), 401 otherwise.
 * `EDGE_URL=https://app.example.is ORIGIN_URL=https://origin.example.is node verifier.ts`
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { pathToFileURL } from 'node:url';
import { createAssertionVerifier, type KenniAssertionOptions } from './kenni-assertion.ts';

/** The request handler: every path verifies the `X-Kenni-Assertion` header nginx passes along. */
export function createVerifierHandler(
  options: KenniAssertionOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const verify = createAssertionVerifier(options);
  return (req, res) => {
    const assertion = req.headers['x-kenni-assertion'];
    const answer = (status: number, sub?: string) => {
      res.statusCode = status;
      res.setHeader('cache-control', 'no-store');
      // Percent-encoded like the edge's own headers, so any subject survives as a header value.
      if (sub !== undefined) res.setHeader('x-kenni-verified-sub', encodeURIComponent(sub));
      res.end();
    };
    if (typeof assertion !== 'string') return answer(401);
    verify(assertion).then(
      (identity) => answer(204, identity.sub),
      () => answer(401),
    );
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const handler = createVerifierHandler({ edge: process.env.EDGE_URL!, audience: process.env.ORIGIN_URL! });
  createServer(handler).listen(Number(process.env.PORT ?? 9402), '127.0.0.1');
}
