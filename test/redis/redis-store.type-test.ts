/**
 * Type test (checked by `tsc -p tsconfig.json`, never run): node-redis's clients and its
 * `createClient` fit redisStore()'s structural types as they are.
 */
import { createClient, createCluster } from 'redis';
import { redisStore } from '../../src/stores/redis.ts';

redisStore({ url: 'redis://127.0.0.1:6379', createClient });
redisStore({ client: createClient({ url: 'rediss://user:secret@redis.example:6380', disableOfflineQueue: true }) });
redisStore({ client: createCluster({ rootNodes: [{ url: 'redis://10.0.0.1:6379' }] }) });
// @ts-expect-error a client is connected by the user or made from a URL, not both at once
redisStore({ client: createClient(), url: 'redis://127.0.0.1:6379' });
