/**
 * A server error leaves the gateway as a problem that says nothing: an origin's or a handler's 5xx
 * body can carry a stack trace or a connection string. One rule for `forwardTo` and for every
 * adapter's in-process handlers.
 * @module
 */

import { isGatewayAnswer, problemResponse } from './decision.ts';
import { validRetryAfter } from './proxy-answer.ts';
import { discardBody, type OriginAnswer } from './proxy-transport.ts';

/** Whether an answer's body must not reach the caller: a 5xx the gateway did not write itself. */
export function isMaskedServerError(response: Response): boolean {
  return response.status >= 500 && !isGatewayAnswer(response);
}

/**
 * The problem that replaces a 5xx answer, whose body is discarded unread: `internal.error` (500)
 * for a 500, `origin.unavailable` (502) for any other 5xx, with the answer's `Retry-After` when it
 * is a valid one.
 */
export async function maskServerError(answer: Pick<OriginAnswer, 'status' | 'headers' | 'body'>, requestId: string): Promise<Response> {
  await discardBody(answer);
  const problem = problemResponse(answer.status === 500 ? 'internal.error' : 'origin.unavailable', requestId);
  const retryAfter = validRetryAfter(answer.headers.get('retry-after'));
  if (retryAfter !== undefined) problem.headers.set('retry-after', retryAfter);
  return problem;
}
