/**
 * The script the report page runs: it draws each chart with uPlot from the JSON data block. It is
 * plain browser JavaScript kept as text, because a function's source is what a bundler or a
 * TypeScript loader makes of it (helpers such as esbuild's `__name` that the page does not have).
 * The page's Content-Security-Policy admits it, and the library, by their hashes only.
 * @module
 */

/** A chart of the report, as the page script reads it from the data block. */
export type ChartSpec =
  | { id: string; kind: 'time'; title: string; /** Bucket starts and step, in seconds. */ x: number[]; step: number; series: { label: string; color: string; values: number[] }[] }
  | { id: string; kind: 'bars'; title: string; labels: string[]; series: [{ label: string; color: string; values: number[] }] };

export const CLIENT_SCRIPT = `(function () {
  'use strict';
  var charts = JSON.parse(document.getElementById('report-data').textContent).charts;
  var shorten = function (label) { return label.length > 40 ? label.slice(0, 39) + '\\u2026' : label; };

  function widthOf(element) { return Math.max(320, Math.min(960, element.clientWidth || 960)); }

  /** UTC labels as precise as the bucket step: a date, a minute or a second. */
  function timeLabel(spec) {
    var multiDay = spec.x.length > 0 && spec.x[spec.x.length - 1] - spec.x[0] >= 86400;
    return function (seconds) {
      var iso = new Date(seconds * 1000).toISOString();
      if (spec.step >= 86400) return iso.slice(0, 10);
      if (multiDay) return iso.slice(5, 16).replace('T', ' ');
      return spec.step >= 60 ? iso.slice(11, 16) : iso.slice(11, 19);
    };
  }

  function timeChart(spec, element) {
    var label = timeLabel(spec);
    return new uPlot({
      width: widthOf(element),
      height: 260,
      scales: { y: { range: function (u, min, max) { return [0, Math.max(1, max) * 1.1]; } } },
      axes: [
        { space: 100, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000].map(function (k) { return k * spec.step; }),
          values: function (u, splits) { return splits.map(label); } },
        { label: 'events', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 1e5, 1e6, 1e7] },
      ],
      series: [{ label: 'time (UTC)', value: function (u, seconds) { return seconds == null ? '--' : label(seconds); } }].concat(spec.series.map(function (s) {
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
