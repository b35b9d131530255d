/**
 * `portcullis report`: the gateway's JSON-lines security events as one self-contained HTML page with
 * charts, and a summary for the terminal.
 * @module
 */

export { aggregate, OUTCOMES, type AggregateOptions, type DeprecatedVersion, type ReportData, type Series, type TopList } from './aggregate.ts';
export { createEventReader, readEvents, toReportEvent, type EventLog, type ReportEvent } from './events.ts';
export { escapeHtml, renderReport, type ChartLibrary, type RenderOptions } from './html.ts';
export { formatSummary } from './summary.ts';
