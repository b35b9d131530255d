/**
 * Time buckets for the report's charts: one step for the whole log, chosen so a chart has at most
 * `MAX_BUCKETS` points, and every bucket between the first and the last event present (a quiet
 * minute is a zero, not a gap that a line would bridge).
 * @module
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Steps people read without arithmetic. */
const STEPS = [SECOND, 5 * SECOND, 10 * SECOND, 30 * SECOND, MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 7 * DAY];
export const MAX_BUCKETS = 120;

/** The bucket grid: `starts[i]` is the epoch ms where bucket i begins. */
export interface Buckets {
  step: number;
  starts: number[];
}

/** The grid covering `from`..`to` (epoch ms) with the smallest step that needs at most MAX_BUCKETS buckets. */
export function bucketsFor(from: number, to: number): Buckets {
  const step = STEPS.find((candidate) => Math.floor(to / candidate) - Math.floor(from / candidate) + 1 <= MAX_BUCKETS) ?? Math.ceil((to - from + 1) / MAX_BUCKETS);
  const first = Math.floor(from / step) * step;
  const starts: number[] = [];
  for (let start = first; start <= to; start += step) starts.push(start);
  return { step, starts };
}

/** The index of the bucket that holds `time`. */
export const bucketIndex = (buckets: Buckets, time: number) => Math.floor((time - buckets.starts[0]!) / buckets.step);

/** A step as people say it: `1 s`, `5 min`, `1 h`, `1 d`. */
export function formatStep(step: number): string {
  for (const [size, unit] of [[7 * DAY, 'wk'], [DAY, 'd'], [HOUR, 'h'], [MINUTE, 'min']] as const) {
    if (step % size === 0) return `${step / size} ${unit}`;
  }
  return `${step / SECOND} s`;
}
