/**
 * The headers portcullis-node sends on an allowed request of the scenario, taken from one decision
 * of the bench policy, for the reference stacks that send them without checking anything. The
 * request id is left out: those stacks make a fresh one per request, as the engine does.
 * @module
 */

import { SignJWT } from 'jose';
import { createEngine } from '../../src/index.ts';
import { AUDIENCE, HOST, ISSUER, ORIGIN, PATH } from '../scenario.ts';
import { benchPolicy } from './policy.ts';

export async function allowedHeaders(): Promise<[string, string][]> {
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
  const request = new Request(`http://${HOST}${PATH}`, { headers: { origin: ORIGIN, authorization: `Bearer ${token}` } });
  const sample = await engine.evaluate(request, { peer: { address: HOST, scheme: 'http' }, rawTarget: PATH });
  if (sample.kind !== 'allow') throw new Error(`the sample request was denied (${sample.reason})`);
  return [...sample.headers].filter(([name]) => name !== 'x-request-id');
}
