import { forwardTo } from 'portcullis';
import { serve } from 'portcullis/node';
import policy from './policy.ts';

// ORIGIN_URL: the API behind the gateway (http://127.0.0.1:9000). PORTCULLIS_IDENTITY_KEY: a secret
// of at least 32 bytes (openssl rand -base64 32) that the origin holds too.
const origin = forwardTo(process.env.ORIGIN_URL!, {
  identity: { key: process.env.PORTCULLIS_IDENTITY_KEY! }, // signs X-Portcullis-Identity on every forwarded request
  headers: { 'x-gateway': 'portcullis' }, // set on every forwarded request, replacing the client's
  stripHeaders: ['x-tenant-id'], // inbound headers your origin would read as identity or routing
  originErrors: 'mask', // the default: an origin's 5xx body never reaches the client
});

const gateway = await serve(policy, origin, { port: Number(process.env.PORT ?? 8787) });
console.log(`listening on ${gateway.url}, forwarding to ${process.env.ORIGIN_URL}`);
