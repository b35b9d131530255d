// The Workers gateway in the conformance suite's shape: the gateway runs on workerd (the
// suite's runner stands in for Cloudflare's edge), the echo application is the origin behind it.
import { gateway } from 'portcullis/cloudflare';
import { policy } from '../policy.ts';

// On Workers there is no socket: the client address is CF-Connecting-IP, which Cloudflare's edge
// sets. Trusting `cloudflare` is what `trustedProxies: []` (believe the socket) means there.
export default gateway({ ...policy, clientIp: { trustedProxies: ['cloudflare'] } });
