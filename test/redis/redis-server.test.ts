/** The test helper that runs Debian's redis-server. */
import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { createClient } from 'redis';
import { describe, expect, it } from 'vitest';
import { startRedisServer } from './redis-server.ts';

const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(true));
  });

describe('startRedisServer', () => {
  it('runs redis-server on a free loopback port with no persistence, and kill() takes it down at once', async () => {
    const server = await startRedisServer();
    const client = createClient({ url: server.url });
    client.on('error', () => {});
    await client.connect();
    expect(await client.configGet(['save', 'appendonly', 'bind'])).toEqual({ save: '', appendonly: 'no', bind: '127.0.0.1' });
    client.destroy();
    await server.kill();
    expect(server.process.signalCode).toBe('SIGKILL');
    expect(await refused(server.port)).toBe(true);
  });

  it('starts servers side by side on different ports', async () => {
    const [a, b] = await Promise.all([startRedisServer(), startRedisServer()]);
    expect(a.port).not.toBe(b.port);
    await Promise.all([a.stop(), b.stop()]);
  });

  it('says exactly what to install when redis-server is missing and cannot be installed', () => {
    // No redis-server and no apt-get on this PATH.
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', '-e', "import('./test/redis/redis-server.ts').then((m) => m.ensureRedisServer())"],
      { env: { ...process.env, PATH: '/nonexistent' }, encoding: 'utf8' },
    );
    expect(child.status).not.toBe(0);
    expect(child.stderr).toContain('apt-get update && apt-get install -y redis-server');
  });
});
