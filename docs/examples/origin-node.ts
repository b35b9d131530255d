import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { IDENTITY_HEADER, identityHeaderVerifier } from 'portcullis';

const port = Number(process.env.PORT ?? 9000);
// The audience is this origin as the gateway addresses it: its ORIGIN_URL.
const verify = identityHeaderVerifier({ key: process.env.PORTCULLIS_IDENTITY_KEY!, audience: `http://127.0.0.1:${port}` });

const server = createServer(async (req, res) => {
  // req.url is the request target (path and query), which the assertion is bound to.
  const result = await verify(req.headers[IDENTITY_HEADER], req.method!, req.url!);
  if (!result.ok) {
    // Not through the gateway (or replayed, expired, forged): refuse, whatever else the request says.
    res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ error: result.reason }));
    return;
  }
  const { sub, roles, client_ip } = result.identity;
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ caller: sub, roles, clientIp: client_ip }));
});
server.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`));
