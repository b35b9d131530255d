import { describe, expect, it } from 'vitest';
import { createEngine, definePolicy, toEcs, type SecurityEvent } from './index.ts';

function engine(log: (event: SecurityEvent) => void) {
  return createEngine(
    definePolicy({
      transport: { requireHttps: false },
      authn: { user: { kind: 'test', challenge: 'User', authenticate: async () => ({ kind: 'absent' }) } },
      routes: { 'GET /v1/users/:id': { authn: ['user'], allow: 'authenticated' } },
    }),
    { log, now: () => Date.UTC(2026, 0, 1), randomId: () => 'req-1' },
  );
}

describe('toEcs', () => {
  it('names a denial with ECS fields: @timestamp, event.*, http.*, url.path, source.ip', async () => {
    const events: SecurityEvent[] = [];
    await engine((event) => void events.push(event)).evaluate(new Request('http://api.test/v1/users/u_1?token=secret'), { peer: { address: '::ffff:203.0.113.7' } });
    expect(toEcs(events[0]!)).toEqual({
      '@timestamp': '2026-01-01T00:00:00.000Z',
      ecs: { version: '8.11.0' },
      message: 'portcullis.deny authn.required',
      event: {
        kind: 'event',
        category: ['authentication', 'web'],
        type: ['denied'],
        action: 'portcullis.deny',
        reason: 'authn.required',
        outcome: 'failure',
        module: 'portcullis',
        dataset: 'portcullis.security',
      },
      http: { request: { id: 'req-1', method: 'GET' }, response: { status_code: 401 } },
      url: { path: '/v1/users/u_1' },
      source: { ip: '203.0.113.7' },
      portcullis: { route: 'GET /v1/users/:id' },
    });
  });

  it('puts the principal in user.id, an alert under event.kind alert with its counts under portcullis', () => {
    const alert: SecurityEvent = {
      time: '2026-01-01T00:00:00.000Z',
      event: 'portcullis.alert',
      reason: 'alert.principal-ips',
      requestId: 'req-9',
      method: 'GET',
      path: '/v1/me',
      route: 'GET /v1/me',
      clientIp: '198.51.100.1',
      principal: 'user:u_1',
      alert: 'shared_token',
      kind: 'principal-ips',
      key: '0123456789abcdef',
      count: 3,
      threshold: 3,
      window: '1h',
      firstRequestId: 'req-1',
      lastRequestId: 'req-9',
    };
    const document = toEcs(alert);
    expect(document.event).toMatchObject({ kind: 'alert', category: ['intrusion_detection'], type: ['indicator'] });
    expect(document.user).toEqual({ id: 'user:u_1' });
    expect(document.portcullis).toEqual({ route: 'GET /v1/me', alert: 'shared_token', kind: 'principal-ips', key: '0123456789abcdef', count: 3, threshold: 3, window: '1h', firstRequestId: 'req-1', lastRequestId: 'req-9' });
  });

  it('leaves out source.ip when the address is not one (Elasticsearch refuses the document otherwise), and the `-` of notices', () => {
    const notice: SecurityEvent = { time: 't', event: 'portcullis.notice', reason: 'authn.jwks_key_skipped', requestId: '-', method: '-', path: '-', route: null, clientIp: '-', error: 'key 1: RSA too short' };
    const document = toEcs(notice);
    expect(document.source).toBeUndefined();
    expect(document.http).toBeUndefined();
    expect(document.url).toBeUndefined();
    expect(document.error).toEqual({ message: 'key 1: RSA too short' });
  });
});
