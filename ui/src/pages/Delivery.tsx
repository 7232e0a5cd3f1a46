import { useMemo, useState } from "react";
import { ApiError, enc, get, type Json } from "../api";
import { Empty, ErrorBox, Spinner, useLoad } from "../components/common";

// The DORA route is specified in docs/ui.md (GET /api/v1/delivery/dora). A server without it answers
// 404/405/501 and the page says so instead of drawing anything.

const PERIODS: [string, number][] = [["7 days", 7], ["30 days", 30], ["90 days", 90]];

function fmtDuration(s: number | null | undefined): string {
  if (s === null || s === undefined) return "—";
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

function Bars({ buckets, label, fmt = (v: number) => String(v) }: { buckets: { start: string; value: number | null }[]; label: string; fmt?: (v: number) => string }) {
  const max = Math.max(1, ...buckets.map((b) => b.value ?? 0));
  const w = 560;
  const h = 120;
  const bw = buckets.length ? w / buckets.length : w;
  return (
    <svg className="chart" viewBox={`0 0 ${w} ${h + 18}`} role="img" aria-label={label}>
      {buckets.map((b, i) => {
        const v = b.value ?? 0;
        const bh = (v / max) * h;
        return (
          <g key={i}>
            <rect x={i * bw + 1} y={h - bh} width={Math.max(1, bw - 2)} height={bh} className={b.value === null ? "nodata" : "bar"}>
              <title>{`${b.start.slice(0, 10)}: ${b.value === null ? "no data" : fmt(v)}`}</title>
            </rect>
          </g>
        );
      })}
      <line x1={0} x2={w} y1={h} y2={h} className="axis" />
      {buckets.length > 0 && <text x={0} y={h + 14} className="tick">{buckets[0]?.start.slice(0, 10)}</text>}
      {buckets.length > 1 && <text x={w} y={h + 14} textAnchor="end" className="tick">{buckets[buckets.length - 1]?.start.slice(0, 10)}</text>}
    </svg>
  );
}

export function DeliveryPage() {
  const [days, setDays] = useState(30);
  const [app, setApp] = useState("");
  const [env, setEnv] = useState("");
  const range = useMemo(() => {
    const to = new Date();
    const from = new Date(to.getTime() - days * 86400000);
    return { from: from.toISOString().replace(/\.\d+Z$/, "Z"), to: to.toISOString().replace(/\.\d+Z$/, "Z") };
  }, [days]);
  const q = `from=${enc(range.from)}&to=${enc(range.to)}&bucket=${days > 30 ? "week" : "day"}${app ? `&app=${enc(app)}` : ""}${env ? `&environment=${enc(env)}` : ""}`;
  const dora = useLoad(() => get(`/api/v1/delivery/dora?${q}`), [q]);
  const unavailable = dora.error instanceof ApiError && [404, 405, 501].includes(dora.error.status);
  const series: Json[] = dora.data?.series ?? [];
  return (
    <div className="page" data-testid="delivery-page">
      <div className="toolbar">
        <h1>Delivery (DORA)</h1>
        <label className="inline">Period<select value={days} onChange={(e) => setDays(Number(e.target.value))}>{PERIODS.map(([l, d]) => <option key={d} value={d}>{l}</option>)}</select></label>
        <label className="inline">Application<input value={app} onChange={(e) => setApp(e.target.value)} placeholder="all" /></label>
        <label className="inline">Environment<input value={env} onChange={(e) => setEnv(e.target.value)} placeholder="all" /></label>
      </div>
      {unavailable && (
        <div className="empty unavailable" data-testid="dora-unavailable">
          <h2>DORA figures are not available from this server</h2>
          <p>This UI reads them from <code>GET /api/v1/delivery/dora</code> (specified in docs/ui.md); the server answered: <em>{(dora.error as Error).message}</em> (HTTP {(dora.error as ApiError).status}). No figures are shown rather than invented ones.</p>
        </div>
      )}
      {!unavailable && dora.error ? <ErrorBox error={dora.error} title="Could not load DORA figures" /> : null}
      {dora.loading && !dora.data && !dora.error && <Spinner />}
      {dora.data && series.length === 0 && <Empty>No deployments recorded in this period.</Empty>}
      {series.map((s) => (
        <section className="card dora" key={`${s.app}/${s.environment}`} data-testid="dora-series">
          <h2>{s.app || "all applications"} <span className="muted">· {s.environment || "all environments"}</span></h2>
          <div className="metrics">
            <div className="metric"><div className="label">Deployment frequency</div><div className="value">{s.deploymentFrequency?.perDay?.toFixed?.(2) ?? "—"} / day</div>
              <Bars label="deployments per bucket" buckets={(s.deploymentFrequency?.buckets ?? []).map((b: Json) => ({ start: b.start, value: b.count }))} /></div>
            <div className="metric"><div className="label">Lead time for changes (median)</div><div className="value">{fmtDuration(s.leadTimeSeconds?.median)}</div>
              <Bars label="lead time per bucket" fmt={fmtDuration} buckets={(s.leadTimeSeconds?.buckets ?? []).map((b: Json) => ({ start: b.start, value: b.median }))} /></div>
            <div className="metric"><div className="label">Change failure rate</div><div className="value">{s.changeFailureRate?.rate === null || s.changeFailureRate?.rate === undefined ? "—" : `${(s.changeFailureRate.rate * 100).toFixed(1)} %`}</div>
              <Bars label="failed deployments per bucket" buckets={(s.changeFailureRate?.buckets ?? []).map((b: Json) => ({ start: b.start, value: b.failed }))} /></div>
            <div className="metric"><div className="label">Time to restore (median)</div><div className="value">{fmtDuration(s.timeToRestoreSeconds?.median)}</div>
              <Bars label="time to restore per bucket" fmt={fmtDuration} buckets={(s.timeToRestoreSeconds?.buckets ?? []).map((b: Json) => ({ start: b.start, value: b.median }))} /></div>
          </div>
        </section>
      ))}
    </div>
  );
}
