/** Debian's Chromium for the browser tests, launched by playwright-core (never a browser a test tool downloads). */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CHROMIUM = '/usr/bin/chromium';

/** Headless, and quiet: no background traffic of the browser's own. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Installs Debian's chromium when it is missing and we are root; otherwise says what to install.
 * Never downloads a browser from anywhere else (no `playwright install`).
 */
export async function ensureChromium(): Promise<void> {
  if (existsSync(CHROMIUM)) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium package as root (apt-get update && apt-get install -y chromium)`);
  }
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn('sh', ['-c', 'apt-get update && apt-get install -y chromium'], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.once('error', reject).once('exit', resolve);
  });
  if (code !== 0 || !existsSync(CHROMIUM)) {
    throw new Error(`apt-get install -y chromium failed (exit ${code}); install Debian's chromium package as root`);
  }
}
