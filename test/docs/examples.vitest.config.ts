/**
 * docs/examples/vitest.config.ts as a user's project runs it, plus the export condition that resolves
 * `portcullis/…` to this repository's sources (a user's resolves to the installed dist/).
 */
import { defaultServerConditions } from 'vite';
import { mergeConfig } from 'vitest/config';
import example from '../../docs/examples/vitest.config.ts';

const SOURCE_CONDITION = '@portcullis/source';

export default mergeConfig(example, {
  resolve: { conditions: [SOURCE_CONDITION, ...defaultServerConditions] },
  ssr: { resolve: { conditions: [SOURCE_CONDITION, ...defaultServerConditions] } },
});
