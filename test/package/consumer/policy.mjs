// The consumer's policy as plain JavaScript: Node (no loader), Bun and Deno import it.
import { definePolicy } from 'portcullis';

export const policy = definePolicy({
  // Served over plain HTTP on 127.0.0.1 here; a deployment keeps the HTTPS redirect.
  transport: { allowLoopbackHttp: true },
  routes: {
    'GET /health': { authn: 'anonymous' },
  },
});

export const hello = () => Response.json({ ok: true });
