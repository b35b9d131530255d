import { readFileSync } from 'node:fs';
import { createClient } from 'redis';
import { redisStore } from 'portcullis/redis';

// TLS with a private CA: any other node-redis option goes through createClient the same way.
export const store = redisStore({
  url: 'rediss://default:secret@redis.internal:6380',
  createClient: (options) => createClient({ ...options, socket: { ...options.socket, tls: true, ca: readFileSync('ca.pem') } }),
});
