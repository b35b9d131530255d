/**
 * Reads the gateway's event log: one JSON object per line, as the default sink writes it on stdout
 * (or the ECS sink, in Elastic Common Schema names). Lines that are not JSON (a start-up banner, npm's own output) and JSON that is not a portcullis
 * event are counted, not fatal: a log captured with `2>&1` still makes a report.
 * @module
 */

/** What each event says about a request, outcome or alert, with the default field names. */
export interface ReportEvent {
  /** `deny`, `report`, `error`, `notice`, `allow`, `alert`, or another `portcullis.*` suffix. */
  kind: string;
  /** Epoch ms; undefined when the line has no parseable `time`. */
  time: number | undefined;
  reason?: string;
  status?: number;
  method?: string;
  path?: string;
  route?: string;
  clientIp?: string;
  principal?: string;
  requestId?: string;
  /** An event's own word that the request used a deprecated version: `true`, or the version's name. */
  deprecated?: string | true;
  /** `portcullis.alert` only. */
  alert?: AlertFields;
}

/** The fields of a `portcullis.alert` event. */
export interface AlertFields {
  name: string;
  /** What it watches (`failed-logins`, `password-spraying`, …), when the event says. */
  type?: string;
  key?: string;
  count?: number;
  window?: string;
  firstRequestId?: string;
  lastRequestId?: string;
}

/** What reading a log found, line by line. */
export interface EventLog {
  events: ReportEvent[];
  /** Lines read, blank ones included. */
  lines: number;
  /** Lines that are not JSON, and the first few of their line numbers. */
  notJson: { count: number; firstLines: number[] };
  /** JSON lines that are not a portcullis event (another program's logs). */
  unrecognised: { count: number; firstLines: number[] };
}

const EXAMPLE_LINES = 5;
const PREFIX = 'portcullis.';

/** `-` is how events without a request (notices) fill their request fields. */
const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' && value !== '-' ? value : undefined);
const integer = (value: unknown): number | undefined => (typeof value === 'number' && Number.isInteger(value) ? value : undefined);

function timeOf(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : time;
}

function deprecatedOf(value: unknown): string | true | undefined {
  if (value === true) return true;
  return text(value);
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const field = (record: Record<string, unknown>, ...path: string[]): unknown => path.reduce<unknown>((value, key) => (isRecord(value) ? value[key] : undefined), record);

/**
 * An event written with Elastic Common Schema names (`@timestamp`, `event.action`, `url.path`,
 * `source.ip`, `user.id`, `http.*`, the rest under `portcullis.*`) in the default names, or
 * undefined when the record is not one.
 */
function fromEcs(record: Record<string, unknown>): Record<string, unknown> | undefined {
  const action = field(record, 'event', 'action');
  if (typeof action !== 'string' || !action.startsWith(PREFIX)) return undefined;
  const extra = isRecord(record.portcullis) ? record.portcullis : {};
  return {
    ...extra,
    event: action,
    time: record['@timestamp'],
    reason: field(record, 'event', 'reason'),
    requestId: field(record, 'http', 'request', 'id'),
    method: field(record, 'http', 'request', 'method'),
    status: field(record, 'http', 'response', 'status_code'),
    path: field(record, 'url', 'path'),
    clientIp: field(record, 'source', 'ip'),
    principal: field(record, 'user', 'id'),
  };
}

/** One parsed JSON object as an event (default or ECS field names), or undefined when it is not a portcullis event. */
export function toReportEvent(input: Record<string, unknown>): ReportEvent | undefined {
  const record = fromEcs(input) ?? input;
  const name = record.event;
  if (typeof name !== 'string' || !name.startsWith(PREFIX) || name.length === PREFIX.length) return undefined;
  const kind = name.slice(PREFIX.length);
  const event: ReportEvent = { kind, time: timeOf(record.time) };
  const fields = {
    reason: text(record.reason),
    status: integer(record.status),
    method: text(record.method),
    path: text(record.path),
    route: text(record.route),
    clientIp: text(record.clientIp),
    principal: text(record.principal),
    requestId: text(record.requestId),
    deprecated: deprecatedOf(record.deprecated),
  };
  for (const [field, value] of Object.entries(fields)) if (value !== undefined) Object.assign(event, { [field]: value });
  if (kind === 'alert') {
    event.alert = {
      name: text(record.alert) ?? '(unnamed)',
      type: text(record.kind),
      key: text(record.key),
      count: integer(record.count),
      window: text(record.window) ?? (typeof record.window === 'number' ? String(record.window) : undefined),
      firstRequestId: text(record.firstRequestId),
      lastRequestId: text(record.lastRequestId),
    };
  }
  return event;
}

/**
 * Collects events from lines as they are read, so a large log never has to be one string.
 * @example
 * const reader = createEventReader();
 * for (const line of text.split('\n')) reader.add(line);
 * const log = reader.result();
 */
export function createEventReader() {
  const log: EventLog = { events: [], lines: 0, notJson: { count: 0, firstLines: [] }, unrecognised: { count: 0, firstLines: [] } };
  const skip = (counter: { count: number; firstLines: number[] }) => {
    counter.count++;
    if (counter.firstLines.length < EXAMPLE_LINES) counter.firstLines.push(log.lines);
  };
  return {
    add(line: string): void {
      log.lines++;
      const trimmed = line.trim();
      if (trimmed === '') return;
      let record: unknown;
      try {
        record = JSON.parse(trimmed);
      } catch {
        skip(log.notJson);
        return;
      }
      const event = isRecord(record) ? toReportEvent(record) : undefined;
      if (event) log.events.push(event);
      else skip(log.unrecognised);
    },
    result: (): EventLog => log,
  };
}

/** Reads a whole log held as one string. */
export function readEvents(text: string): EventLog {
  const reader = createEventReader();
  const lines = text.split('\n');
  // A final newline ends the last line; it does not start another.
  if (lines.at(-1) === '') lines.pop();
  for (const line of lines) reader.add(line);
  return reader.result();
}
