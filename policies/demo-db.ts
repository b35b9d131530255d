/**
 * The demo origin's users, in a real SQL database: PGlite (Postgres compiled to WebAssembly), in
 * memory by default. Every query is parameterized (`$1`, never a value spliced into SQL); emails
 * are sealed at rest with `portcullis/crypto`, bound to their user and column; passwords are scrypt
 * hashes.
 * @module
 */

import { PGlite } from '@electric-sql/pglite';
import { fieldKeyring, generateFieldKey, type FieldKeyring } from '../src/crypto/index.ts';

/** A user as the origin works with it: the email opened. */
export interface DemoUser {
  id: string;
  username: string;
  name: string;
  email: string;
  roles: string[];
  /** `scrypt$N$r$p$salt$hash`: the password itself is never stored. */
  passwordHash: string;
  /** The client address of the last successful login, as the gateway resolved it; null before the first. */
  lastLoginIp: string | null;
}

/** A row of the `users` table, as stored. */
interface UserRow {
  id: string;
  username: string;
  name: string;
  email_sealed: string;
  roles: string[];
  password_hash: string;
  last_login_ip: string | null;
}

/** The demo users (passwords in the README and printed at start: alice / bob). */
const SEED: Omit<DemoUser, 'lastLoginIp'>[] = [
  {
    id: 'u_alice',
    username: 'alice',
    name: 'Alice Liddell',
    email: 'alice@example.com',
    roles: ['user'],
    passwordHash: 'scrypt$32768$8$1$Fv80EVv3upTTk9bG6BE9Nw$WKdfOD3UayoQvpRLXJ7fVJiy2M6j8lK24uJMlRAOPKA',
  },
  {
    id: 'u_bob',
    username: 'bob',
    name: 'Bob Builder',
    email: 'bob@example.com',
    roles: ['admin'],
    passwordHash: 'scrypt$32768$8$1$dN3KkUt_bR83ybQ-anOL8Q$vIniYORfSjjBuVUqDu1yMEhwUz9k9YbreccETPXxjhk',
  },
];

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS users (
    id            text PRIMARY KEY,
    username      text NOT NULL UNIQUE,
    name          text NOT NULL,
    email_sealed  text NOT NULL,
    roles         text[] NOT NULL,
    password_hash text NOT NULL,
    last_login_ip text
  )`;

/**
 * A data directory with the schema and no rows, made once per process: creating a database runs
 * Postgres's initdb (seconds of CPU); loading this copy costs a fraction, so a process that starts
 * several demos (the tests) pays for one.
 */
let template: Promise<Blob> | undefined;
function emptyTemplate(): Promise<Blob> {
  template ??= (async () => {
    const db = await PGlite.create();
    await db.exec(SCHEMA);
    const dump = await db.dumpDataDir('none');
    await db.close();
    return dump;
  })();
  // A failed attempt is not kept: the next start tries again.
  template.catch(() => (template = undefined));
  return template;
}

/** Makes this process's database template now (a test's `beforeAll`), so that later demo starts are quick. */
export async function warmDemoDatabase(): Promise<void> {
  await emptyTemplate();
}

/** Where an email lives: its sealed value opens for this user's row and this column only. */
const emailContext = (id: string) => ({ record: id, column: 'users.email' });

/** Options of `openDemoDatabase`. */
export interface DemoDatabaseOptions {
  /** Seals and opens emails. @default a keyring with one key made at start */
  keyring?: FieldKeyring;
  /** A PGlite data directory that outlives the process. @default in memory */
  dataDir?: string;
}

/** The demo's users table. */
export interface DemoDatabase {
  findById(id: string): Promise<DemoUser | undefined>;
  findByUsername(username: string): Promise<DemoUser | undefined>;
  /** Sets the fields given; the updated user, or undefined when there is none with that id. */
  update(id: string, patch: { name?: string; email?: string }): Promise<DemoUser | undefined>;
  /** Whether a user was deleted. */
  remove(id: string): Promise<boolean>;
  recordLogin(id: string, clientIp: string): Promise<void>;
  count(): Promise<number>;
  /** Every table of the schema and every row of `users`, exactly as stored (ciphertext and all). */
  dump(): Promise<{ tables: string[]; users: UserRow[] }>;
  close(): Promise<void>;
}

/**
 * Opens (and on first use creates and seeds) the users table.
 * @example
 * ```ts
 * const db = await openDemoDatabase({ keyring: fieldKeyring({ keys: { k1: process.env.DEMO_FIELD_KEY! }, current: 'k1' }) });
 * const alice = await db.findByUsername('alice');
 * ```
 */
export async function openDemoDatabase(options: DemoDatabaseOptions = {}): Promise<DemoDatabase> {
  const keyring = options.keyring ?? fieldKeyring({ keys: { k1: generateFieldKey() }, current: 'k1' });
  const db = options.dataDir ? await PGlite.create(options.dataDir) : await PGlite.create({ loadDataDir: await emptyTemplate() });
  await db.exec(SCHEMA);
  for (const user of SEED) {
    await db.query(
      `INSERT INTO users (id, username, name, email_sealed, roles, password_hash) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`,
      [user.id, user.username, user.name, await keyring.seal(user.email, emailContext(user.id)), user.roles, user.passwordHash],
    );
  }

  async function opened(row: UserRow | undefined): Promise<DemoUser | undefined> {
    if (!row) return undefined;
    const email = await keyring.open(row.email_sealed, emailContext(row.id));
    return { id: row.id, username: row.username, name: row.name, email, roles: row.roles, passwordHash: row.password_hash, lastLoginIp: row.last_login_ip };
  }
  const one = async (sql: string, params: unknown[]) => opened((await db.query<UserRow>(sql, params)).rows[0]);

  return {
    findById: (id) => one('SELECT * FROM users WHERE id = $1', [id]),
    findByUsername: (username) => one('SELECT * FROM users WHERE username = $1', [username]),
    async update(id, patch) {
      const sealed = patch.email === undefined ? null : await keyring.seal(patch.email, emailContext(id));
      // COALESCE keeps a column whose new value is not given (NULL).
      return one('UPDATE users SET name = COALESCE($2, name), email_sealed = COALESCE($3, email_sealed) WHERE id = $1 RETURNING *', [id, patch.name ?? null, sealed]);
    },
    async remove(id) {
      return ((await db.query('DELETE FROM users WHERE id = $1', [id])).affectedRows ?? 0) > 0;
    },
    async recordLogin(id, clientIp) {
      await db.query('UPDATE users SET last_login_ip = $2 WHERE id = $1', [id, clientIp]);
    },
    async count() {
      return (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM users')).rows[0]!.n;
    },
    async dump() {
      const tables = (await db.query<{ name: string }>(`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`)).rows.map((row) => row.name);
      const users = (await db.query<UserRow>('SELECT * FROM users ORDER BY id')).rows;
      return { tables, users };
    },
    close: () => db.close(),
  };
}
