/** Endpoint health: current state, totals over a window and uPlot charts of the time series. */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api, enc, qs, type Series } from './api.ts';
import { ErrorBox, relative, time, useLoad } from './components.tsx';

export const WINDOWS = {
  '1h': { ms: 3_600_000, bucket: 60 },
  '24h': { ms: 86_400_000, bucket: 1800 },
  '7d': { ms: 7 * 86_400_000, bucket: 4 * 3600 },
} as const;
export type WindowName = keyof typeof WINDOWS;

export function loadSeries(appId: string, endpointId: string, w: WindowName): Promise<Series> {
  const { ms, bucket } = WINDOWS[w];
  const until = new Date(Date.now() + 1000);
  return api<Series>(
    'GET',
    `/app/${enc(appId)}/endpoint/${enc(endpointId)}/stats/series${qs({
      since: new Date(until.getTime() - ms).toISOString(),
      until: until.toISOString(),
      bucket,
    })}`,
  );
}

export interface Totals {
  attempts: number;
  successes: number;
  /** Worst bucket p95 in the window; null without attempts. */
  p95Ms: number | null;
  p50Ms: number | null;
}

export function totals(s: Series): Totals {
  let attempts = 0;
  let successes = 0;
  let p95: number | null = null;
  const p50s: number[] = [];
  for (const b of s.data) {
    attempts += b.attempts;
    successes += b.successes;
    if (b.p95Ms !== null) p95 = Math.max(p95 ?? 0, b.p95Ms);
    if (b.p50Ms !== null) p50s.push(b.p50Ms);
  }
  p50s.sort((a, b) => a - b);
  const p50 = p50s.length ? p50s[Math.floor((p50s.length - 1) / 2)]! : null;
  return { attempts, successes, p95Ms: p95, p50Ms: p50 };
}

export function rate(t: Totals): string {
  return t.attempts === 0 ? '–' : `${((100 * t.successes) / t.attempts).toFixed(1)}%`;
}

/** Healthy, failing since …, or disabled: from the endpoint's own record. */
export function StateBadge({ disabled, failingSince }: { disabled: boolean; failingSince: string | null }) {
  if (disabled) return <span class="badge fail">disabled</span>;
  if (failingSince)
    return (
      <span class="badge warn" title={time(failingSince)}>
        failing since {relative(failingSince)}
      </span>
    );
  return <span class="badge success">healthy</span>;
}

export function Chart({
  title,
  data,
  series,
}: {
  title: string;
  data: uPlot.AlignedData;
  series: uPlot.Series[];
}) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const dark = matchMedia('(prefers-color-scheme: dark)').matches;
    const axis = { stroke: dark ? '#c9d1d9' : '#333', grid: { stroke: dark ? '#30363d' : '#e5e5e5' } };
    const plot = new uPlot(
      {
        width: Math.max(200, el.clientWidth),
        height: 200,
        series: [{}, ...series],
        axes: [
          axis,
          axis,
          ...(series.some((x) => x.scale === '%')
            ? [{ ...axis, scale: '%', side: 1, grid: { show: false } }]
            : []),
        ],
        // Series names only: values under the cursor would read `--` whenever it is off the chart.
        legend: { show: true, live: false },
        scales: { x: { time: true }, '%': { range: [0, 100] } },
      },
      data,
      el,
    );
    const ro = new ResizeObserver(() => plot.setSize({ width: Math.max(200, el.clientWidth), height: 200 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [data, series]);
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} aria-hidden="true" />
    </figure>
  );
}

const VOLUME_SERIES: uPlot.Series[] = [
  { label: 'attempts', stroke: '#3b82f6', fill: 'rgba(59,130,246,0.15)', paths: uPlot.paths.bars?.() },
  { label: 'success %', stroke: '#16a34a', scale: '%', points: { show: true, size: 5 } },
];
const LATENCY_SERIES: uPlot.Series[] = [
  { label: 'p50 ms', stroke: '#8b5cf6', points: { show: true, size: 5 } },
  { label: 'p95 ms', stroke: '#f59e0b', points: { show: true, size: 5 } },
];

/** The health panel of one endpoint: state, totals, volume and latency charts, data table. */
export function HealthPanel(props: {
  appId: string;
  endpointId: string;
  window: WindowName;
  refresh: number;
}) {
  const series = useLoad(
    () => loadSeries(props.appId, props.endpointId, props.window),
    [props.appId, props.endpointId, props.window, props.refresh],
  );
  const s = series.data;
  if (!s) return series.error ? <ErrorBox error={series.error} /> : <p class="muted">Loading health…</p>;
  const t = totals(s);
  const xs = s.data.map((b) => Date.parse(b.start) / 1000);
  const volume: uPlot.AlignedData = [
    xs,
    s.data.map((b) => b.attempts),
    s.data.map((b) => (b.attempts ? (100 * b.successes) / b.attempts : null)),
  ];
  const latency: uPlot.AlignedData = [xs, s.data.map((b) => b.p50Ms), s.data.map((b) => b.p95Ms)];
  return (
    <section aria-label="Endpoint health" class="health">
      <ErrorBox error={series.error} />
      <dl class="stats" data-testid="health-totals">
        <div>
          <dt>State</dt>
          <dd>
            <StateBadge disabled={s.disabled} failingSince={s.failingSince} />
          </dd>
        </div>
        <div>
          <dt>Attempts</dt>
          <dd data-testid="attempt-total">{t.attempts}</dd>
        </div>
        <div>
          <dt>Success rate</dt>
          <dd>{rate(t)}</dd>
        </div>
        <div>
          <dt>p50 / p95</dt>
          <dd>
            {t.p50Ms ?? '–'} / {t.p95Ms ?? '–'} ms
          </dd>
        </div>
      </dl>
      <div class="charts">
        <Chart title="Volume and success rate" data={volume} series={VOLUME_SERIES} />
        <Chart title="Latency (ms)" data={latency} series={LATENCY_SERIES} />
      </div>
      <details>
        <summary>Chart data</summary>
        <div class="scroll">
          <table data-testid="series-table">
            <thead>
              <tr>
                <th scope="col">Bucket start</th>
                <th scope="col">Attempts</th>
                <th scope="col">Successes</th>
                <th scope="col">p50 ms</th>
                <th scope="col">p95 ms</th>
              </tr>
            </thead>
            <tbody>
              {s.data
                .filter((b) => b.attempts > 0)
                .map((b) => (
                  <tr key={b.start}>
                    <td>{time(b.start)}</td>
                    <td>{b.attempts}</td>
                    <td>{b.successes}</td>
                    <td>{b.p50Ms}</td>
                    <td>{b.p95Ms}</td>
                  </tr>
                ))}
            </tbody>
          </table>
        </div>
      </details>
    </section>
  );
}
