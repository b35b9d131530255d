import { forwardTo } from 'portcullis';
import { nodeTransport, serve } from 'portcullis/node';
import policy from './policy.ts';

// The gateway of gateway.ts with the options of its keep-alive client set (serve() uses one by itself).
const origin = forwardTo(process.env.ORIGIN_URL!, {
  identity: { key: process.env.PORTCULLIS_IDENTITY_KEY! },
  transport: nodeTransport({ maxSockets: 256 }),
});

const gateway = await serve(policy, origin, { port: Number(process.env.PORT ?? 8787) });
console.log(`listening on ${gateway.url}, forwarding to ${process.env.ORIGIN_URL}`);
