/**
 * The part of oidc-provider 8 the OAuth suite uses: the package ships no types, and the
 * DefinitelyTyped package would be one more dependency for a dozen lines of API.
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  /** oidc-provider's configuration object, checked by the provider itself at construction. */
  export type Configuration = Record<string, unknown>;

  export default class Provider {
    constructor(issuer: string, configuration?: Configuration);
    readonly issuer: string;
    callback(): (request: IncomingMessage, response: ServerResponse) => void;
    on(event: string, listener: (...args: unknown[]) => void): this;
    readonly Grant: new (fields: { accountId: string; clientId: string }) => {
      addOIDCScope(scope: string): void;
      addResourceScope(resource: string, scope: string): void;
      save(): Promise<string>;
    };
    readonly Client: { find(id: string): Promise<unknown> };
    readonly RefreshToken: new (fields: Record<string, unknown>) => { save(): Promise<string> };
  }

  export const errors: {
    InvalidTarget: new (description?: string) => Error;
  };
}
