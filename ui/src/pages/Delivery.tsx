import { useEffect, useMemo, useState } from "react";
import { ApiError, enc, get, type Json } from "../api";
import { ErrorBox, Spinner, useLoad } from "../components/common";

// DORA figures from GET /api/v1/delivery/dora (docs/ui.md): one series per application and environment
// the caller may see, with day or week buckets. A server without the route answers 404/405/501 and the
// page says so instead of drawing anything.

interface Bucket { start: string; count?: number; median?: number | null; failed?: number; total?: number }
interface Series {
  app: string;
  environment: string;
  project?: string;
  deploymentFrequency: { perDay: number; count?: number; buckets: Bucket[] };
  leadTimeSeconds: { median: number | null; p90?: number | null; samples?: number; buckets: Bucket[] };
  changeFailureRate: { rate: number | null; failed?: number; total?: number; buckets: Bucket[] };
  timeToRestoreSeconds: { median: number | null; restores?: number; open?: number; buckets: Bucket[] };
}
interface Dora { period: { from: string; to: string }; bucket?: string; series: Series[] }

const PERIODS: [string, string][] = [["7", "Last 7 days"], ["14", "Last 14 days"], ["30", "Last 30 days"], ["90", "Last 90 days"], ["180", "Last 180 days"], ["custom", "Custom…"]];
const DAY = 86400000;

const iso = (d: Date) => d.toISOString().replace(/\.\d+Z$/, "Z");
const dateInput = (d: Date) => d.toISOString().slice(0, 10);

export function fmtDuration(s: number | null | undefined): string {
  if (s === null || s === undefined) return "—";
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}
const fmtRate = (r: number | null | undefined) => (r === null || r === undefined ? "—" : `${(r * 100).toFixed(1)} %`);
function fmtDay(start: string, bucket: string): string {
  const d = new Date(start);
  const s = d.toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
  return bucket === "week" ? `wk ${s}` : s;
}

interface Bar { start: string; value: number | null; part?: number; tip: string }

/** A bar chart in SVG: one bar per bucket; `part` draws a red share of the bar (failed of total);
 *  a null value is drawn as a grey stub ("no data"). */
function BarChart({ bars, label, fmt, bucket }: { bars: Bar[]; label: string; fmt: (v: number) => string; bucket: string }) {
  const w = 600, h = 110, left = 44, bottom = 18;
  const max = Math.max(0, ...bars.map((b) => b.value ?? 0));
  const top = max > 0 ? max : 1;
  const bw = bars.length ? (w - left) / bars.length : w - left;
  const y = (v: number) => h - (v / top) * h;
  const ticks = bars.length > 2 ? [0, Math.floor((bars.length - 1) / 2), bars.length - 1] : bars.map((_, i) => i);
  return (
    <svg className="chart" viewBox={`0 0 ${w} ${h + bottom + 4}`} role="img" aria-label={label} data-testid="dora-chart" data-max={max}>
      <line x1={left} x2={w} y1={0.5} y2={0.5} className="grid" />
      <line x1={left} x2={w} y1={h / 2} y2={h / 2} className="grid" />
      <text x={left - 4} y={9} textAnchor="end" className="tick">{max > 0 ? fmt(max) : "0"}</text>
      <text x={left - 4} y={h} textAnchor="end" className="tick">0</text>
      {bars.map((b, i) => {
        const x = left + i * bw + Math.min(2, bw * 0.15);
        const bwidth = Math.max(1, bw - 2 * Math.min(2, bw * 0.15));
        if (b.value === null) return <rect key={i} x={x} y={h - 3} width={bwidth} height={3} className="nodata"><title>{b.tip}</title></rect>;
        const part = b.part ?? 0;
        return (
          <g key={i}>
            <rect x={x} y={y(b.value)} width={bwidth} height={h - y(b.value)} className={b.part === undefined ? "bar" : "bar light"}><title>{b.tip}</title></rect>
            {part > 0 && <rect x={x} y={y(part)} width={bwidth} height={h - y(part)} className="bar bad"><title>{b.tip}</title></rect>}
          </g>
        );
      })}
      <line x1={left} x2={w} y1={h} y2={h} className="axis" />
      {ticks.map((i) => {
        const b = bars[i];
        if (!b) return null;
        const x = left + i * bw + bw / 2;
        const anchor = i === 0 && bars.length > 1 ? "start" : i === bars.length - 1 && bars.length > 1 ? "end" : "middle";
        return <text key={i} x={anchor === "start" ? left + i * bw : anchor === "end" ? left + (i + 1) * bw : x} y={h + 14} textAnchor={anchor} className="tick">{fmtDay(b.start, bucket)}</text>;
      })}
    </svg>
  );
}

function SeriesCard({ s, bucket }: { s: Series; bucket: string }) {
  const df = s.deploymentFrequency, lt = s.leadTimeSeconds, cfr = s.changeFailureRate, ttr = s.timeToRestoreSeconds;
  const label = (b: Bucket) => fmtDay(b.start, bucket);
  return (
    <section className="card dora" id={`dora-${s.app}-${s.environment}`} data-testid="dora-series" data-app={s.app} data-environment={s.environment} data-deployments={df.count ?? ""}>
      <h2>
        {s.app} <span className="muted">· {s.environment || "no environment"}{s.project ? ` · project ${s.project}` : ""}</span>
      </h2>
      <div className="metrics">
        <div className="metric" data-testid="dora-frequency">
          <div className="label">Deployment frequency</div>
          <div className="value">{df.perDay.toFixed(2)} / day <span className="muted small">{df.count ?? "?"} successful in the period</span></div>
          <BarChart bucket={bucket} label={`${s.app} deployments per ${bucket}`} fmt={(v) => String(Math.round(v))}
            bars={df.buckets.map((b) => ({ start: b.start, value: b.count ?? 0, tip: `${label(b)}: ${b.count ?? 0} deployment(s)` }))} />
        </div>
        <div className="metric" data-testid="dora-lead-time">
          <div className="label">Lead time for changes (commit → Synced and Healthy)</div>
          <div className="value">{fmtDuration(lt.median)} <span className="muted small">median{lt.p90 != null ? ` · p90 ${fmtDuration(lt.p90)}` : ""} · {lt.samples ?? 0} sample(s)</span></div>
          {lt.samples === 0 ? <p className="muted small nodata-note">No deployment in the period has both a commit time and a healthy time.</p> : null}
          <BarChart bucket={bucket} label={`${s.app} median lead time per ${bucket}`} fmt={fmtDuration}
            bars={lt.buckets.map((b) => ({ start: b.start, value: b.median ?? null, tip: `${label(b)}: ${b.median == null ? "no data" : fmtDuration(b.median)}` }))} />
        </div>
        <div className="metric" data-testid="dora-cfr">
          <div className="label">Change failure rate</div>
          <div className="value">{fmtRate(cfr.rate)} <span className="muted small">{cfr.failed ?? 0} failed of {cfr.total ?? 0} change(s)</span></div>
          <BarChart bucket={bucket} label={`${s.app} failed and total changes per ${bucket}`} fmt={(v) => String(Math.round(v))}
            bars={cfr.buckets.map((b) => ({ start: b.start, value: b.total ?? 0, part: b.failed ?? 0, tip: `${label(b)}: ${b.failed ?? 0} failed of ${b.total ?? 0}` }))} />
        </div>
        <div className="metric" data-testid="dora-ttr">
          <div className="label">Time to restore service</div>
          <div className="value">{fmtDuration(ttr.median)} <span className="muted small">median · {ttr.restores ?? 0} restore(s){ttr.open ? ` · ${ttr.open} not restored yet` : ""}</span></div>
          <BarChart bucket={bucket} label={`${s.app} median time to restore per ${bucket}`} fmt={fmtDuration}
            bars={ttr.buckets.map((b) => ({ start: b.start, value: b.median ?? null, tip: `${label(b)}: ${b.median == null ? "no restore" : fmtDuration(b.median)}` }))} />
        </div>
      </div>
    </section>
  );
}

function readQuery(): { period: string; bucket: string; app: string; env: string; from: string; to: string } {
  const q = new URLSearchParams(location.search);
  const today = new Date();
  return {
    period: q.get("period") || "30",
    bucket: q.get("bucket") || "auto",
    app: q.get("app") || "",
    env: q.get("environment") || "",
    from: q.get("from") || dateInput(new Date(today.getTime() - 30 * DAY)),
    to: q.get("to") || dateInput(today),
  };
}

export function DeliveryPage() {
  const initial = useMemo(readQuery, []);
  const [period, setPeriod] = useState(initial.period);
  const [bucketChoice, setBucketChoice] = useState(initial.bucket);
  const [app, setApp] = useState(initial.app);
  const [env, setEnv] = useState(initial.env);
  const [fromDay, setFromDay] = useState(initial.from);
  const [toDay, setToDay] = useState(initial.to);
  const [tick, setTick] = useState(0);

  // The range is fixed when the choice changes (and on Refresh), not on every render.
  const range = useMemo(() => {
    if (period === "custom") {
      const from = new Date(`${fromDay}T00:00:00Z`);
      const to = new Date(new Date(`${toDay}T00:00:00Z`).getTime() + DAY);
      return { from: Number.isNaN(from.getTime()) ? fromDay : iso(from), to: Number.isNaN(to.getTime()) ? toDay : iso(to), days: (to.getTime() - from.getTime()) / DAY };
    }
    const days = Number(period);
    const to = new Date();
    return { from: iso(new Date(to.getTime() - days * DAY)), to: iso(to), days };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [period, fromDay, toDay, tick]);
  const bucket = bucketChoice === "auto" ? (range.days > 31 ? "week" : "day") : bucketChoice;

  useEffect(() => {
    const q = new URLSearchParams();
    q.set("period", period);
    if (bucketChoice !== "auto") q.set("bucket", bucketChoice);
    if (app) q.set("app", app);
    if (env) q.set("environment", env);
    if (period === "custom") {
      q.set("from", fromDay);
      q.set("to", toDay);
    }
    history.replaceState(null, "", `/delivery?${q.toString()}`);
  }, [period, bucketChoice, app, env, fromDay, toDay]);

  const query = `from=${enc(range.from)}&to=${enc(range.to)}&bucket=${bucket}${app ? `&app=${enc(app)}` : ""}${env ? `&environment=${enc(env)}` : ""}`;
  const dora = useLoad(() => get<Dora>(`/api/v1/delivery/dora?${query}`), [query, tick]);
  // Choices for the filters: the applications the caller can list, and their environment labels.
  const apps = useLoad(() => get<Json>("/api/v1/applications?fields=items.metadata.name,items.metadata.labels"), []);
  const appNames: string[] = useMemo(() => {
    const names = new Set<string>((apps.data?.items ?? []).map((a: Json) => a?.metadata?.name).filter(Boolean));
    for (const s of dora.data?.series ?? []) names.add(s.app);
    if (app) names.add(app);
    return [...names].sort();
  }, [apps.data, dora.data, app]);
  const envs: string[] = useMemo(() => {
    const out = new Set<string>((apps.data?.items ?? []).map((a: Json) => a?.metadata?.labels?.environment).filter(Boolean));
    for (const s of dora.data?.series ?? []) if (s.environment) out.add(s.environment);
    if (env) out.add(env);
    return [...out].sort();
  }, [apps.data, dora.data, env]);

  const unavailable = dora.error instanceof ApiError && [404, 405, 501].includes(dora.error.status);
  const data = dora.error ? undefined : dora.data;
  const series = data?.series ?? [];
  const shownBucket = data?.bucket ?? bucket;
  const totals = series.reduce((acc, s) => ({ deployments: acc.deployments + (s.deploymentFrequency.count ?? 0), failed: acc.failed + (s.changeFailureRate.failed ?? 0), changes: acc.changes + (s.changeFailureRate.total ?? 0) }), { deployments: 0, failed: 0, changes: 0 });

  return (
    <div className="page" data-testid="delivery-page">
      <div className="toolbar">
        <h1>Delivery (DORA)</h1>
        <label className="inline">Period
          <select value={period} onChange={(e) => setPeriod(e.target.value)} data-testid="dora-period">{PERIODS.map(([v, l]) => <option key={v} value={v}>{l}</option>)}</select>
        </label>
        {period === "custom" && (
          <>
            <label className="inline">From<input type="date" value={fromDay} max={toDay} onChange={(e) => setFromDay(e.target.value)} data-testid="dora-from" /></label>
            <label className="inline">To<input type="date" value={toDay} min={fromDay} onChange={(e) => setToDay(e.target.value)} data-testid="dora-to" /></label>
          </>
        )}
        <label className="inline">Buckets
          <select value={bucketChoice} onChange={(e) => setBucketChoice(e.target.value)} data-testid="dora-bucket">
            <option value="auto">Automatic</option><option value="day">Daily</option><option value="week">Weekly</option>
          </select>
        </label>
        <label className="inline">Application
          <select value={app} onChange={(e) => setApp(e.target.value)} data-testid="dora-app"><option value="">All</option>{appNames.map((n) => <option key={n} value={n}>{n}</option>)}</select>
        </label>
        <label className="inline">Environment
          <select value={env} onChange={(e) => setEnv(e.target.value)} data-testid="dora-environment"><option value="">All</option>{envs.map((n) => <option key={n} value={n}>{n}</option>)}</select>
        </label>
        <button onClick={() => setTick((t) => t + 1)} data-testid="dora-refresh">Refresh</button>
        {dora.loading && data ? <span className="muted small">Updating…</span> : null}
      </div>
      {data && (
        <p className="muted small" data-testid="dora-period-text">
          {new Date(data.period.from).toUTCString()} → {new Date(data.period.to).toUTCString()} · {shownBucket === "week" ? "weekly" : "daily"} buckets (UTC) · from the deployment history the controller records
        </p>
      )}
      {unavailable && (
        <div className="empty unavailable" data-testid="dora-unavailable">
          <h2>DORA figures are not available from this server</h2>
          <p>This UI reads them from <code>GET /api/v1/delivery/dora</code>; the server answered: <em>{(dora.error as Error).message}</em> (HTTP {(dora.error as ApiError).status}). No figures are shown rather than invented ones.</p>
        </div>
      )}
      {!unavailable && dora.error ? <ErrorBox error={dora.error} title="Could not load DORA figures" /> : null}
      {dora.loading && !data && !dora.error && <Spinner />}
      {data && series.length === 0 && (
        <div className="empty" data-testid="dora-empty">
          <h2>No deployments recorded in this period</h2>
          <p>{app || env ? "Nothing matches the filters: try All applications and environments, or a longer period." : "The controller records a deployment each time a sync reaches the cluster; none of the applications you may see has one here. Try a longer period."}</p>
        </div>
      )}
      {series.length > 0 && (
        <section className="card" data-testid="dora-summary">
          <h2>Summary <span className="muted small">{series.length} application/environment pair(s) · {totals.deployments} deployment(s) · {totals.failed} failed of {totals.changes} change(s)</span></h2>
          <table className="grid">
            <thead><tr><th>Application</th><th>Environment</th><th>Deployments</th><th>Per day</th><th>Lead time (median)</th><th>Change failure rate</th><th>Time to restore (median)</th></tr></thead>
            <tbody>
              {series.map((s) => (
                <tr key={`${s.app}/${s.environment}`} data-testid="dora-row" data-app={s.app}>
                  <td><a href={`#dora-${s.app}-${s.environment}`}>{s.app}</a></td>
                  <td>{s.environment || <span className="muted">none</span>}</td>
                  <td>{s.deploymentFrequency.count ?? "—"}</td>
                  <td>{s.deploymentFrequency.perDay.toFixed(2)}</td>
                  <td>{fmtDuration(s.leadTimeSeconds.median)}</td>
                  <td>{fmtRate(s.changeFailureRate.rate)}</td>
                  <td>{fmtDuration(s.timeToRestoreSeconds.median)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
      {series.map((s) => <SeriesCard key={`${s.app}/${s.environment}`} s={s} bucket={shownBucket} />)}
    </div>
  );
}
