/**
 * Type test (adapters/cloudflare.tsconfig.json only): the gateway is a Workers `ExportedHandler`.
 * @module
 */

import worker, { type Env } from '../policies/worker.ts';

worker satisfies ExportedHandler<Env>;
