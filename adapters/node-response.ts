/**
 * The policy's headers on a `node:http` ServerResponse that `@hono/node-server` writes a Response to
 * — for the Node adapter, and for the Hono middleware when Hono runs on `@hono/node-server`.
 * @module
 */

import { leaks, type HeaderList } from '../src/index.ts';

/** The part of `node:http`'s ServerResponse this needs (this module imports nothing from Node). */
export interface NodeResponse {
  setHeader(name: string, value: string): unknown;
  writeHead(status: number, ...rest: unknown[]): unknown;
}

/** `c.env.outgoing` under `@hono/node-server`: the ServerResponse the Response will be written to. */
export function nodeResponseOf(env: unknown): NodeResponse | undefined {
  const outgoing = (env as { outgoing?: Partial<NodeResponse> } | undefined)?.outgoing;
  return typeof outgoing?.setHeader === 'function' && typeof outgoing.writeHead === 'function' ? (outgoing as NodeResponse) : undefined;
}

/**
 * Sets the decision's headers on the ServerResponse, and watches where the handler's Response meets
 * it: `@hono/node-server` writes every Response through `writeHead(status, headers)`, whose headers
 * would win over these. There, the ones that leak or that the policy sets are dropped and a `Vary`
 * is merged — what `engine.finalize` does to a Response, without touching the Response's `Headers`
 * (on a node-server Response, that alone costs more than the policy).
 */
export function guardResponse(outgoing: NodeResponse, headers: HeaderList): void {
  headers.forEach(setOn, outgoing);
  const writeHead = outgoing.writeHead;
  outgoing.writeHead = function (this: NodeResponse, status: number, ...rest: unknown[]) {
    // `writeHead(status, headers)` or `writeHead(status, message, headers)`: node-server gives an object.
    const last = rest.length - 1;
    const given = rest[last];
    if (typeof given === 'object' && given !== null) {
      const kept: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(given)) if (keeps(outgoing, headers, name, value)) kept[name] = value;
      rest[last] = kept;
    }
    return writeHead.call(this, status, ...rest);
  };
}

function setOn(this: NodeResponse, value: string, name: string): void {
  this.setHeader(name, value);
}

/** Whether a header of the Response's may be written beside the policy's (a Vary is merged into theirs). */
function keeps(outgoing: NodeResponse, headers: HeaderList, name: string, value: unknown): boolean {
  const lower = name.toLowerCase();
  if (lower !== 'vary') return !leaks(lower) && !headers.has(lower);
  const vary = headers.get('vary');
  if (vary !== null && value !== undefined) outgoing.setHeader('vary', `${vary}, ${String(value)}`);
  return vary === null;
}
