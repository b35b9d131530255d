/**
 * What `ip` rules cost per request: `engine.evaluate()` of an anonymous route with no ip rules, and
 * with 1,000 CIDRs (a deny list the client is outside of, an allow list the client is inside of),
 * for an IPv4 and an IPv6 client. Median µs per request over timed batches.
 * And the check alone (no engine around it), in ns: `check1000_v4_ns`, `check1000_v6_ns`.
 * Prints one JSON line: `{ "none_us", "deny1000_us", "allow1000_us", "deny1000_v6_us", "check1000_v4_ns", "check1000_v6_ns" }`.
 * Run: `node --import tsx bench/network.ts`
 * @module
 */

import { createEngine, type Client, type Policy } from '../src/index.ts';
import { compileNetworkRules } from '../src/stages/network.ts';
import { timeEvaluations } from './batch.ts';

const BATCHES = 60;
const BATCH = 2000;

/** 1,000 distinct /24s in 10.0.0.0/8 (or /48s in 2001:db8::/32), none holding the bench client. */
const v4Ranges = Array.from({ length: 1000 }, (_, i) => `10.${Math.floor(i / 250)}.${i % 250}.0/24`);
const v6Ranges = Array.from({ length: 1000 }, (_, i) => `2001:db8:${(i + 1).toString(16)}::/48`);

function engineWith(ip: Policy['ip']) {
  return createEngine({ transport: { requireHttps: false }, ...(ip && { ip }), routes: { 'GET /x': { authn: 'anonymous' } } }, { log: () => {} });
}

async function median(ip: Policy['ip'], address: string): Promise<number> {
  const engine = engineWith(ip);
  const context = { peer: { address } };
  const samples: number[] = [];
  for (let batch = 0; batch < BATCHES + 10; batch++) {
    const us = await timeEvaluations(engine, Array.from({ length: BATCH }, () => new Request('http://api.test/x')), context);
    if (batch >= 10) samples.push(us);
  }
  samples.sort((a, b) => a - b);
  return Number(samples[Math.floor(samples.length / 2)]!.toFixed(2));
}

/** ns per check of one client against 1,000 compiled ranges. */
function checkAlone(ranges: string[], ip: string): number {
  const check = compileNetworkRules({ deny: ranges }, undefined)!;
  const client: Client = { ip, scheme: 'https', forwarded: false, directLoopback: false };
  const rounds = 200_000;
  for (let i = 0; i < rounds; i++) check(client);
  const start = performance.now();
  for (let i = 0; i < rounds; i++) if (check(client)) throw new Error('denied');
  return Number((((performance.now() - start) * 1e6) / rounds).toFixed(0));
}

console.log(
  JSON.stringify({
    check1000_v4_ns: checkAlone(v4Ranges, '192.0.2.1'),
    check1000_v6_ns: checkAlone(v6Ranges, '2001:db9::1'),
    none_us: await median(undefined, '192.0.2.1'),
    deny1000_us: await median({ deny: v4Ranges }, '192.0.2.1'),
    allow1000_us: await median({ allow: [...v4Ranges, '192.0.2.0/24'] }, '192.0.2.1'),
    deny1000_v6_us: await median({ deny: v6Ranges }, '2001:db9::1'),
  }),
);
