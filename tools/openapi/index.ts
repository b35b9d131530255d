/**
 * `portcullis openapi`, as a library: an OpenAPI 3.1 document of the API a policy guards — paths,
 * parameters, security schemes and per-operation alternatives, request schemas (valibot through
 * `@valibot/to-json-schema`; other Standard Schemas through `~standard.jsonSchema` when they offer
 * it), and the problem+json responses the engine can answer with.
 *
 * @example
 * ```ts
 * import { toOpenApi } from 'portcullis/openapi';
 * const document = toOpenApi(policy, { title: 'Users API', version: '1.4.0' });
 * ```
 * @module
 */

export { jsonSchemaOf, openApiPath, toOpenApi, type OpenApiOptions } from './document.ts';
