/**
 * `portcullis import`, as a library: a policy skeleton from an OpenAPI 3.0/3.1 document — routes,
 * their schemas as `jsonSchema()` (portcullis/json-schema), security schemes as method stubs.
 *
 * @example
 * ```ts
 * import { importOpenApi, parseOpenApiText } from 'portcullis/import';
 * const { source } = importOpenApi(parseOpenApiText(yamlText, 'openapi.yaml'), { file: 'openapi.yaml' });
 * ```
 * @module
 */

export { openApiDocument, parseOpenApiText, type OpenApiDocument } from './document.ts';
export { importOpenApi, type ImportOptions, type ImportResult } from './openapi-import.ts';
