/**
 * `portcullis replay`, as a library: decide recorded traffic — the engine's security events
 * (denials, and allowed requests when `logging.allowed` samples them) or a HAR — again under a
 * policy, and report the decisions that change, grouped by route and reason. What a log line
 * cannot tell (a body, a claim) makes the request undecidable rather than guessed.
 *
 * @example
 * ```ts
 * import { readReplayInput, replay } from 'portcullis/replay';
 * const report = await replay(newPolicy, readReplayInput(logText));
 * console.log(`${report.changed} of ${report.replayed} decisions change`);
 * ```
 * @module
 */

export { readReplayInput, type LoggedIdentity, type ReadOptions, type RecordedDecision, type ReplayInput, type ReplayRecord } from './input.ts';
export { replay, type ReplayChange, type ReplayExample, type ReplayOptions, type ReplayReport, type UndecidableGroup } from './replay.ts';
export { formatReplay } from './format.ts';
