/**
 * The types the Hono middleware gives handlers: `c.var.principal`, and `c.var.input` typed by the
 * policy's route (params, query, headers and body from its schemas).
 * @module
 */

import type { Allow, InferOutput, Policy, Principal } from '../src/index.ts';

/** `"GET /v1/users/:id"` → `'id'`. */
type ParamNames<Path extends string> = Path extends `${string}:${infer Name}/${infer Rest}`
  ? Name | ParamNames<`/${Rest}`>
  : Path extends `${string}:${infer Name}`
    ? Name
    : never;

type PathOf<Pattern> = Pattern extends `${string} ${infer Path}` ? Path : string;

type Output<Schema, Otherwise> = Schema extends { '~standard': unknown } ? InferOutput<Schema> : Otherwise;

/** The body of an allowed request: the schema's output, or the parsed body of a route that declares only media types. */
type BodyOf<R> = R extends { body: infer Schema }
  ? Output<Schema, undefined>
  : R extends { contentTypes: readonly string[] }
    ? unknown
    : undefined;

/** A report-only route lets invalid input through: nothing in it is validated then. */
type Reported<P, R, T> = P extends { mode: 'report' } ? T | undefined : R extends { mode: 'report' } ? T | undefined : T;

/** The validated input of one route, tagged with its pattern. */
export type RouteInput<P extends Policy, K extends keyof P['routes']> = K extends string
  ? {
      readonly route: K;
      readonly params: Output<P['routes'][K] extends { params: infer S } ? S : undefined, Readonly<Record<ParamNames<PathOf<K>>, string>>>;
      readonly query: Reported<P, P['routes'][K], Output<P['routes'][K] extends { query: infer S } ? S : undefined, undefined>>;
      readonly headers: Reported<P, P['routes'][K], Output<P['routes'][K] extends { headers: infer S } ? S : undefined, undefined>>;
      readonly body: Reported<P, P['routes'][K], BodyOf<P['routes'][K]>>;
    }
  : never;

/** In report-only mode a request no route matches is let through as `'*'`. */
type UnroutedInput = {
  readonly route: '*';
  readonly params: Readonly<Record<string, string>>;
  readonly query: undefined;
  readonly headers: undefined;
  readonly body: undefined;
};

/** `c.var.input`: a union over the policy's routes, narrowed by `input.route` (or by `routeInput`). */
export type PolicyInput<P extends Policy> =
  | { [K in keyof P['routes']]: RouteInput<P, K> }[keyof P['routes']]
  | (P extends { mode: 'report' } ? UnroutedInput : P['routes'][keyof P['routes']] extends infer R ? (R extends { mode: 'report' } ? UnroutedInput : never) : never);

/** What the middleware puts on `c.var`. */
export interface PortcullisVariables<P extends Policy = Policy> {
  principal: Principal;
  input: PolicyInput<P>;
  decision: Allow;
}

/**
 * The Hono `Env` of an app behind `portcullis(policy)`: `new Hono<PortcullisEnv<typeof policy>>()`.
 * Merge your own bindings: `PortcullisEnv<typeof policy> & { Bindings: { DB: D1Database } }`.
 */
export type PortcullisEnv<P extends Policy = Policy> = { Variables: PortcullisVariables<P> };

/**
 * The validated input of the route the handler serves, typed from that route's schemas. Throws
 * when the policy matched another route: a Hono route and a policy route that disagree are a bug.
 *
 * @example
 * ```ts
 * users.patch('/:id', (c) => {
 *   const { body } = routeInput(c, 'PATCH /v1/users/:id'); // { name?: string; email?: string }
 *   return c.json(body);
 * });
 * ```
 */
export function routeInput<I extends { readonly route: string }, K extends I['route']>(
  c: { var: { input: I } },
  route: K,
): Extract<I, { readonly route: K }> {
  const input = c.var.input;
  if (input.route !== route) throw new Error(`routeInput: this request matched the policy route "${input.route}", not "${route}"`);
  return input as Extract<I, { readonly route: K }>;
}
