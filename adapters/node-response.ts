/**
 * The policy's headers on a `node:http` ServerResponse that `@hono/node-server` writes a Response to
 * — for the Node adapter, and for the Hono middleware when Hono runs on `@hono/node-server`.
 * @module
 */

import type { HeaderList } from '../src/index.ts';
import { responseHeaderFate } from '../src/response.ts';

/** The part of `node:http`'s ServerResponse this needs (this module imports nothing from Node). */
export interface NodeResponse {
  writeHead(status: number, ...rest: unknown[]): unknown;
}

/** `c.env.outgoing` under `@hono/node-server`: the ServerResponse the Response will be written to. */
export function nodeResponseOf(env: unknown): NodeResponse | undefined {
  const outgoing = (env as { outgoing?: Partial<NodeResponse> } | undefined)?.outgoing;
  return typeof outgoing?.writeHead === 'function' ? (outgoing as NodeResponse) : undefined;
}

/**
 * Puts the decision's headers into the one place every response head goes through:
 * `@hono/node-server` writes a Response with `writeHead(status, headers)`, and node:http's own
 * implicit head (`end()` without `writeHead`) calls it too. There the head is written as one list:
 * the policy's headers, then the Response's, less the ones that leak or that the policy sets (a
 * `Vary` is merged into the policy's) — what `engine.finalize` does to a Response, without touching
 * the Response's `Headers` (on a node-server Response, that alone costs more than the policy).
 * One list in `writeHead` also spares node:http a `setHeader` per header.
 */
export function guardResponse(outgoing: NodeResponse, headers: HeaderList): void {
  const writeHead = outgoing.writeHead;
  outgoing.writeHead = function (this: NodeResponse, status: number, ...rest: unknown[]) {
    // `writeHead(status[, message][, headers])`
    const message = typeof rest[0] === 'string' ? rest[0] : undefined;
    const head = wireHeaders(headers, message === undefined ? rest[0] : rest[1]);
    return message === undefined ? writeHead.call(this, status, head) : writeHead.call(this, status, message, head);
  };
}

/** The policy's headers and the Response's that may go beside them, names and values alternating. */
function wireHeaders(headers: HeaderList, given: unknown): unknown[] {
  const head: unknown[] = headers.flat();
  if (typeof given !== 'object' || given === null) return head;
  const add = (name: string, value: unknown) => keep(head, headers, name, value);
  if (!Array.isArray(given)) {
    for (const name of Object.keys(given)) add(name, (given as Record<string, unknown>)[name]);
  } else if (Array.isArray(given[0])) {
    for (const [name, value] of given as [string, unknown][]) add(name, value);
  } else {
    for (let i = 0; i < given.length; i += 2) add(given[i] as string, given[i + 1]);
  }
  return head;
}

/** Adds a header of the Response's to the head as the response rules say (`responseHeaderFate`). */
function keep(head: unknown[], headers: HeaderList, name: string, value: unknown): void {
  const fate = responseHeaderFate(name.toLowerCase(), headers);
  if (fate === 'keep') head.push(name, value);
  else if (fate === 'merge' && value !== undefined) {
    // The policy's `vary` is in the head (names at even places, the policy's first, lower case).
    let at = 0;
    while (head[at] !== 'vary') at += 2;
    head[at + 1] = `${head[at + 1] as string}, ${String(value)}`;
  }
}
