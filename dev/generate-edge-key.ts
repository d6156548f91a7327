/**
 * Prints a new private ES256 JWK for `EDGE_SIGNING_KEY`, one line, ready for
 * `npx node dev/generate-edge-key.ts | npx wrangler secret put EDGE_SIGNING_KEY`.
 * To rotate, publish `{"keys":[<new>,<old public or private>]}` for a while.
 */
import { createEdgeSigningKey } from './dev-vars.ts';

console.log(JSON.stringify(await createEdgeSigningKey()));
