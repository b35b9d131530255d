import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { aggregate } from './aggregate.ts';
import { readEvents } from './events.ts';
import { renderReport, type ChartLibrary } from './html.ts';

const require = createRequire(import.meta.url);
const library: ChartLibrary = {
  script: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
  css: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
};

const HOSTILE = {
  path: '/v1/</script><script>window.__pwned=1</script>',
  clientIp: '"><img src=x onerror=alert(1)>',
  principal: "user:'onmouseover='alert(1)",
  reason: 'authz.<b>denied</b>',
};
const lines = [
  { time: '2026-12-03T10:00:00Z', event: 'portcullis.deny', status: 403, method: 'GET', route: null, requestId: 'r1', ...HOSTILE },
  { time: '2026-12-03T10:00:01Z', event: 'portcullis.alert', alert: '<script>alert(1)</script>', key: '<!--', count: 10, window: '5m', firstRequestId: 'a&b', lastRequestId: 'c' },
];
const render = () => renderReport(aggregate(readEvents(lines.map((line) => JSON.stringify(line)).join('\n'))), { library, source: 'events<1>.jsonl', now: Date.parse('2026-12-03T11:00:00Z') });

/** The bodies of the page's script elements that a browser would run (not the JSON data block). */
const executableScripts = (html: string) => [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((match) => match[1]!);

describe('renderReport', () => {
  it('escapes every value from the log: no tag, attribute or comment of its own reaches the markup', async () => {
    const html = await render();
    // Outside the script elements (the JSON data block is checked below).
    const markup = html.replace(/(<script[^>]*>)[\s\S]*?<\/script>/g, '$1</script>');
    for (const value of [...Object.values(HOSTILE), '<script>alert(1)</script>', '<!--', 'events<1>']) expect(markup).not.toContain(value);
    expect(html).toContain('/v1/&lt;/script&gt;&lt;script&gt;window.__pwned=1&lt;/script&gt;');
    expect(html).toContain('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('user:&#39;onmouseover=&#39;alert(1)');
    expect(html).toContain('a&amp;b');
    // The page has exactly its own script elements: the data block, the library and the chart script.
    expect(html.match(/<script/g)).toHaveLength(3);
  });

  it('hands the charts the raw values through a JSON block that cannot close its element', async () => {
    const html = await render();
    const block = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html)![1]!;
    expect(block).not.toMatch(/[<>]/);
    const { charts } = JSON.parse(block) as { charts: { id: string; labels?: string[] }[] };
    expect(charts.find((chart) => chart.id === 'paths')!.labels).toEqual([HOSTILE.path]);
    expect(charts.find((chart) => chart.id === 'ips')!.labels).toEqual([HOSTILE.clientIp]);
  });

  it('lets only its own two scripts run, by hash, and loads nothing', async () => {
    const html = await render();
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)![1]!.replaceAll('&#39;', "'");
    const hashes = executableScripts(html).map((body) => `'sha256-${createHash('sha256').update(body).digest('base64')}'`);
    expect(hashes).toHaveLength(2);
    expect(csp).toContain(`script-src ${hashes.join(' ')};`);
    expect(csp).toMatch(/^default-src 'none';/);
    expect(executableScripts(html)[0]).toBe(library.script);
  });

  it('shows the totals as numbers a reader (and a test) can find', async () => {
    const html = await render();
    expect(html).toContain('<td class="n" data-total="deny">1</td>');
    expect(html).toContain('<td class="n" data-total="alert">1</td>');
    expect(html).toContain('<td class="n" data-total="events">2</td>');
  });

  it('refuses a chart library it cannot inline safely', async () => {
    const data = aggregate(readEvents(''));
    await expect(renderReport(data, { library: { script: 'var x = "</script>";', css: '' }, source: 'x' })).rejects.toThrow(/cannot be inlined/);
  });
});
