/**
 * An ES256 key pair for the in-process figures, and tokens for the scenario's user 42 signed with it.
 * @module
 */

import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { AUDIENCE, ISSUER } from './scenario.ts';

export async function scenarioSigner() {
  const pair = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'bench', alg: 'ES256' };
  /** A token for user 42 (role `user`), distinct for each `jti`. */
  const sign = (jti: string) =>
    new SignJWT({ roles: ['user'] })
      .setProtectedHeader({ alg: 'ES256', kid: 'bench', typ: 'JWT' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject('42')
      .setIssuedAt()
      .setExpirationTime('1h')
      .setJti(jti)
      .sign(pair.privateKey);
  return { pair, publicJwk, sign };
}
