// portcullis/crypto on this runtime's WebCrypto: a field sealed, opened, and refused for another record.
import { fieldKeyring, generateFieldKey } from 'portcullis/crypto';

export async function checkSealing(runtime) {
  const keyring = fieldKeyring({ keys: { k1: generateFieldKey() }, current: 'k1' });
  const context = { record: 'u_1', column: 'users.email' };
  const sealed = await keyring.seal('alice@example.com', context);
  if (!sealed.startsWith('v1.k1.') || (await keyring.open(sealed, context)) !== 'alice@example.com') throw new Error(`${runtime}: seal/open`);
  const moved = await keyring.open(sealed, { ...context, record: 'u_2' }).then(() => 'opened', (error) => error.code);
  if (moved !== 'ERR_SEAL_REJECTED') throw new Error(`${runtime}: a value moved to another record ${moved}`);
}
