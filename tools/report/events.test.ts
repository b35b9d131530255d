import { describe, expect, it } from 'vitest';
import { readEvents } from './events.ts';

const deny = {
  time: '2026-12-03T10:00:00.000Z',
  requestId: 'r1',
  method: 'GET',
  path: '/v1/users/u_bob',
  route: 'GET /v1/users/:id',
  clientIp: '203.0.113.7',
  principal: 'user:u_alice',
  event: 'portcullis.deny',
  reason: 'authz.denied',
  status: 403,
  reasons: ['allow[0]: authz.role_missing'],
};

describe('readEvents', () => {
  it('reads the default sink\'s fields, the kind from the event name', () => {
    const log = readEvents(`${JSON.stringify(deny)}\n`);
    expect(log.lines).toBe(1);
    expect(log.events).toEqual([
      {
        kind: 'deny',
        time: Date.parse('2026-12-03T10:00:00.000Z'),
        requestId: 'r1',
        method: 'GET',
        path: '/v1/users/u_bob',
        route: 'GET /v1/users/:id',
        clientIp: '203.0.113.7',
        principal: 'user:u_alice',
        reason: 'authz.denied',
        status: 403,
      },
    ]);
  });

  it('drops the "-" that events without a request put in their request fields', () => {
    const notice = { time: '2026-12-03T10:00:00Z', event: 'portcullis.notice', reason: 'authn.jwks_key_skipped', error: 'x', requestId: '-', method: '-', path: '-', route: null, clientIp: '-' };
    expect(readEvents(JSON.stringify(notice)).events).toEqual([{ kind: 'notice', time: Date.parse('2026-12-03T10:00:00Z'), reason: 'authn.jwks_key_skipped' }]);
  });

  it('reads an alert\'s fields', () => {
    const alert = { event: 'portcullis.alert', alert: 'failed_logins', key: 'sha256:ab12', count: 10, window: '5m', firstRequestId: 'a', lastRequestId: 'b', time: '2026-12-03T10:05:00Z' };
    expect(readEvents(JSON.stringify(alert)).events).toEqual([
      { kind: 'alert', time: Date.parse('2026-12-03T10:05:00Z'), alert: { name: 'failed_logins', key: 'sha256:ab12', count: 10, window: '5m', firstRequestId: 'a', lastRequestId: 'b' } },
    ]);
  });

  it('counts the lines that are not JSON (a banner) and remembers where the first ones are, skipping blank lines', () => {
    const text = ['> portcullis@0.1.0 start', '> tsx policies/demo-gateway.ts', '', JSON.stringify(deny), 'portcullis demo gateway listening on http://127.0.0.1:8787', '{"event": "portcullis.deny"'].join('\n');
    const log = readEvents(text);
    expect(log.lines).toBe(6);
    expect(log.events).toHaveLength(1);
    expect(log.notJson).toEqual({ count: 4, firstLines: [1, 2, 5, 6] });
    expect(log.unrecognised).toEqual({ count: 0, firstLines: [] });
  });

  it('counts JSON that is not a portcullis event apart (other programs\' logs)', () => {
    const text = [
      JSON.stringify({ '@timestamp': '2026-12-03T10:00:00Z', event: { action: 'nginx.access' }, url: { path: '/x' } }),
      JSON.stringify({ level: 'info', msg: 'listening' }),
      JSON.stringify({ event: 'portcullis.' }),
      '[1, 2]',
      '42',
      'null',
      JSON.stringify(deny),
    ].join('\n');
    const log = readEvents(text);
    expect(log.events).toHaveLength(1);
    expect(log.unrecognised).toEqual({ count: 6, firstLines: [1, 2, 3, 4, 5] });
  });

  it('reads events written in Elastic Common Schema names as the same events', () => {
    const ecs = {
      '@timestamp': '2026-12-03T10:00:00.000Z',
      ecs: { version: '8.11.0' },
      message: 'portcullis.deny authz.denied',
      event: { kind: 'event', category: ['web'], type: ['denied'], action: 'portcullis.deny', reason: 'authz.denied', outcome: 'failure', module: 'portcullis', dataset: 'portcullis.security' },
      http: { request: { id: 'r1', method: 'GET' }, response: { status_code: 403 } },
      url: { path: '/v1/users/u_bob' },
      source: { ip: '203.0.113.7' },
      user: { id: 'user:u_alice' },
      portcullis: { route: 'GET /v1/users/:id', reasons: ['allow[0]: authz.role_missing'] },
    };
    const alert = {
      '@timestamp': '2026-12-03T10:05:00Z',
      event: { kind: 'alert', action: 'portcullis.alert', reason: 'alert.failed_logins' },
      portcullis: { alert: 'failed_logins', kind: 'failed-logins', key: 'sha256:ab12', count: 10, window: '5m', firstRequestId: 'a', lastRequestId: 'b' },
    };
    const log = readEvents([JSON.stringify(ecs), JSON.stringify(alert)].join('\n'));
    expect(log.events).toEqual([
      readEvents(JSON.stringify(deny)).events[0],
      { kind: 'alert', time: Date.parse('2026-12-03T10:05:00Z'), reason: 'alert.failed_logins', alert: { name: 'failed_logins', type: 'failed-logins', key: 'sha256:ab12', count: 10, window: '5m', firstRequestId: 'a', lastRequestId: 'b' } },
    ]);
  });

  it('keeps events whose time does not parse, without a time', () => {
    const [event] = readEvents(JSON.stringify({ ...deny, time: 'yesterday' })).events;
    expect(event).toMatchObject({ kind: 'deny', time: undefined });
  });

  it('reads the deprecated field an event may carry: true or the version', () => {
    const log = readEvents([JSON.stringify({ ...deny, deprecated: true }), JSON.stringify({ ...deny, deprecated: '/v0' }), JSON.stringify({ ...deny, deprecated: false })].join('\n'));
    expect(log.events.map((event) => event.deprecated)).toEqual([true, '/v0', undefined]);
  });
});
