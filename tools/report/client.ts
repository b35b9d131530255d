/**
 * The script the report page runs: it draws each chart with uPlot from the JSON data block. It is
 * plain browser JavaScript kept as text, because a function's source is what a bundler or a
 * TypeScript loader makes of it (helpers such as esbuild's `__name` that the page does not have).
 * The page's Content-Security-Policy admits it, and the library, by their hashes only.
 * @module
 */

/** A chart of the report, as the page script reads it from the data block. */
export type ChartSpec =
  | { id: string; kind: 'time'; title: string; x: number[]; series: { label: string; color: string; values: number[] }[] }
  | { id: string; kind: 'bars'; title: string; labels: string[]; series: [{ label: string; color: string; values: number[] }] };

export const CLIENT_SCRIPT = `(function () {
  'use strict';
  var charts = JSON.parse(document.getElementById('report-data').textContent).charts;
  var utc = function (seconds) { return uPlot.tzDate(new Date(seconds * 1000), 'Etc/UTC'); };
  var shorten = function (label) { return label.length > 40 ? label.slice(0, 39) + '\\u2026' : label; };

  function widthOf(element) { return Math.max(320, Math.min(960, element.clientWidth || 960)); }

  function timeChart(spec, element) {
    return new uPlot({
      width: widthOf(element),
      height: 260,
      tzDate: utc,
      scales: { y: { range: function (u, min, max) { return [0, Math.max(1, max) * 1.1]; } } },
      axes: [{}, { label: 'events', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 1e5, 1e6, 1e7] }],
      series: [{ label: 'time (UTC)' }].concat(spec.series.map(function (s) {
        return { label: s.label, stroke: s.color, width: 2, points: { show: true, size: 5, fill: s.color } };
      })),
    }, [spec.x].concat(spec.series.map(function (s) { return s.values; })), element);
  }

  function barChart(spec, element) {
    var labels = spec.labels.map(shorten);
    var longest = labels.reduce(function (max, label) { return Math.max(max, label.length); }, 4);
    var index = labels.map(function (_, i) { return i; });
    var s = spec.series[0];
    // uPlot sizes a bar by the distance to its neighbour: a lone bar gets an empty one past the range.
    var x = index.concat([labels.length]);
    var values = s.values.concat([null]);
    return new uPlot({
      width: widthOf(element),
      height: 110 + labels.length * 28,
      legend: { show: false },
      cursor: { show: false },
      scales: {
        x: { time: false, ori: 1, dir: -1, range: function () { return [-0.5, labels.length - 0.5]; } },
        y: { ori: 0, dir: 1, range: function (u, min, max) { return [0, Math.max(1, max) * 1.1]; } },
      },
      axes: [
        { side: 3, size: Math.min(320, 16 + longest * 7), gap: 4, grid: { show: false }, ticks: { show: false },
          splits: function () { return index; }, values: function () { return labels; } },
        { side: 2, label: s.label, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 1e5, 1e6, 1e7] },
      ],
      series: [{}, { label: s.label, fill: s.color, stroke: s.color, width: 0, paths: uPlot.paths.bars({ size: [0.7, 40] }), points: { show: false } }],
    }, [x, values], element);
  }

  charts.forEach(function (spec) {
    var element = document.querySelector('[data-chart="' + spec.id + '"]');
    if (!element) return;
    (spec.kind === 'time' ? timeChart : barChart)(spec, element);
  });
  document.documentElement.dataset.charts = String(charts.length);
})();
`;
