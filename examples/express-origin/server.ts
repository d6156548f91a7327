/**
 * An Express origin behind kenni-edge: identity only from the verified
 * `X-Kenni-Assertion`. `EDGE_URL=https://app.example.is ORIGIN_URL=https://origin.example.is node server.ts`
 * (Node 22.18+ runs TypeScript as is).
 */
import express from 'express';
import { kenniAssertion, requireKenniIdentity, type KenniRequest } from './kenni-assertion.ts';

const app = express();
app.use(kenniAssertion({ edge: process.env.EDGE_URL!, audience: process.env.ORIGIN_URL! }));

app.get('/public/hello', (_req, res) => {
  res.json({ hello: 'anyone' });
});
app.get('/account', requireKenniIdentity, (req: KenniRequest, res) => {
  const { sub, name, national_id: nationalId, act } = req.kenni!;
  res.json({ sub, name, national_id: nationalId, acting_for_them: act ?? null });
});

app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
