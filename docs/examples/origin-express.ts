import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { IDENTITY_HEADER, identityHeaderVerifier, type Identity } from 'portcullis';

const port = Number(process.env.PORT ?? 9000);
const verify = identityHeaderVerifier({ key: process.env.PORTCULLIS_IDENTITY_KEY!, audience: `http://127.0.0.1:${port}` });

/** Refuses every request that did not come through the gateway; puts the principal in res.locals. */
async function requireGateway(req: Request, res: Response, next: NextFunction) {
  // originalUrl: the target as received, before any router mount point was cut off.
  const result = await verify(req.headers[IDENTITY_HEADER], req.method, req.originalUrl);
  if (!result.ok) return void res.status(403).json({ error: result.reason });
  res.locals.identity = result.identity;
  next();
}

const app = express();
app.disable('x-powered-by');
app.use(requireGateway);
app.get('/v1/health', (req, res) => {
  const { sub, roles } = res.locals.identity as Identity;
  res.json({ caller: sub, roles });
});
const server = app.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`));
