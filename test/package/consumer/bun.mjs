import { guard } from 'portcullis/bun';
import { hello, policy } from './policy.mjs';
import { checkSealing } from './sealed.mjs';

const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: guard(policy, hello) });
try {
  const response = await fetch(`${server.url.origin}/health`);
  if (response.status !== 200) throw new Error(`bun: /health ${response.status}`);
} finally {
  server.stop(true);
}
await checkSealing('bun');
console.log(`bun ${Bun.version}: serve and seal ok`);
