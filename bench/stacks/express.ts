/**
 * Stack 3: Express with `helmet`, `cors`, `jsonwebtoken`, `express-rate-limit` and `joi`.
 *
 * The verification key is a KeyObject made once, the best case for `jsonwebtoken`: given a PEM or
 * a secret string it would parse it again on every request.
 * @module
 */

import { createPublicKey, createSecretKey } from 'node:crypto';
import { createServer } from 'node:http';
import cors from 'cors';
import express, { type NextFunction, type Request, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import helmet from 'helmet';
import Joi from 'joi';
import jsonwebtoken from 'jsonwebtoken';
import { AUDIENCE, ISSUER, keyFromEnv, ORIGIN, ownerOrAdmin, RATE_LIMIT, userBody, type Claims } from '../scenario.ts';
import { announce } from './listen.ts';

const key = keyFromEnv();
const verifyKey = key.alg === 'ES256' ? createPublicKey({ key: key.publicJwk! as import('node:crypto').JsonWebKey, format: 'jwk' }) : createSecretKey(Buffer.from(key.secret!));
const query = Joi.object({ fields: Joi.string() });

function authenticate(req: Request, res: Response, next: NextFunction) {
  const token = /^Bearer ([^\s]+)$/i.exec(req.headers.authorization ?? '')?.[1];
  try {
    if (!token) throw new Error('no bearer token');
    res.locals.claims = jsonwebtoken.verify(token, verifyKey, { algorithms: [key.alg], issuer: ISSUER, audience: AUDIENCE });
    next();
  } catch {
    res.status(401).set('www-authenticate', 'Bearer').json({ error: 'unauthorized' });
  }
}

const app = express();
app.use(helmet());
app.use(cors({ origin: ORIGIN, credentials: true, maxAge: 86400 }));
app.get(
  '/users/:id',
  authenticate,
  rateLimit({
    windowMs: RATE_LIMIT.windowMs,
    limit: RATE_LIMIT.limit,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: (_req, res) => `user:${(res.locals.claims as Claims).sub}`,
  }),
  (req, res) => {
    const { error } = query.validate(req.query);
    if (error) {
      res.status(400).json({ error: error.message });
      return;
    }
    const id = req.params.id as string;
    if (!ownerOrAdmin(res.locals.claims as Claims, id)) {
      res.status(403).json({ error: 'forbidden' });
      return;
    }
    res.json(userBody(id));
  },
);

await announce(createServer(app));
