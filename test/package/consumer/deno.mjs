import { guard } from 'portcullis/deno';
import { hello, policy } from './policy.mjs';
import { checkSealing } from './sealed.mjs';

const server = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen() {} }, guard(policy, hello));
try {
  const response = await fetch(`http://127.0.0.1:${server.addr.port}/health`);
  await response.body?.cancel();
  if (response.status !== 200) throw new Error(`deno: /health ${response.status}`);
} finally {
  await server.shutdown();
}
await checkSealing('deno');
console.log(`deno ${Deno.version.deno}: serve and seal ok`);
