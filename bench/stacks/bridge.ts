/**
 * A reference, not one of the five stacks (`BENCH_STACKS=…,bridge`): the Request/Response bridge
 * portcullis-node runs on (`@hono/node-server`'s listener), answering with the same body and the
 * same response headers, set the same way, but checking nothing. Its distance from `bare` is what
 * the bridge and the headers cost; its distance from portcullis-node is what the policy costs.
 * @module
 */

import { createServer } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { SignJWT } from 'jose';
import { createEngine } from '../../src/index.ts';
import { AUDIENCE, HOST, ISSUER, ORIGIN, PATH, userBody } from '../scenario.ts';
import { announce } from './listen.ts';
import { benchPolicy } from './policy.ts';

// The headers portcullis-node sends on an allowed request, taken from one decision of the policy
// (the request id is made fresh per request, as the engine does).
const secret = 'a reference stack checks nothing, so any secret will do';
const engine = createEngine(benchPolicy({ alg: 'HS256', secret }), { log: () => {} });
const token = await new SignJWT({ roles: ['user'] })
  .setProtectedHeader({ alg: 'HS256' })
  .setIssuer(ISSUER)
  .setAudience(AUDIENCE)
  .setSubject('42')
  .setIssuedAt()
  .setExpirationTime('1h')
  .sign(new TextEncoder().encode(secret));
const sample = await engine.evaluate(new Request(`http://${HOST}${PATH}`, { headers: { origin: ORIGIN, authorization: `Bearer ${token}` } }), {
  peer: { address: HOST, scheme: 'http' },
  rawTarget: PATH,
});
if (sample.kind !== 'allow') throw new Error(`bridge: the sample request was denied (${sample.reason})`);
const headers = [...sample.headers].filter(([name]) => name !== 'x-request-id');

const json = { 'content-type': 'application/json' };
const listener = getRequestListener((_request, { outgoing }) => {
  for (const [name, value] of headers) outgoing.setHeader(name, value);
  outgoing.setHeader('x-request-id', crypto.randomUUID());
  return new Response(JSON.stringify(userBody('42')), { headers: json });
});

await announce(createServer(listener));
