-- wrk's summary as one JSON line on stdout, for bench/run.ts: 2xx answers (requests less the
-- non-2xx/3xx ones), the run's duration, p50/p99 latency in ms, and the errors.
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests":%d,"non2xx":%d,"errors":%d,"duration_s":%f,"p50_ms":%f,"p99_ms":%f}\n',
    summary.requests - errors.status, errors.status, errors.connect + errors.read + errors.write + errors.timeout,
    summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
