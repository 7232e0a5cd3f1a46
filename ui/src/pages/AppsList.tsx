import { useEffect, useMemo, useRef, useState } from "react";
import { cluster, destination, drifted, get, healthStatus, held, project, source, streamApplications, syncStatus, type App } from "../api";
import { Empty, ErrorBox, HealthBadge, Spinner, SyncBadge, Tag, ago, short } from "../components/common";
import { Windowed } from "../components/Windowed";
import { Link, navigate } from "../router";

const LIST_FIELDS = [
  "metadata.resourceVersion",
  "items.metadata.name",
  "items.metadata.namespace",
  "items.metadata.labels",
  "items.metadata.resourceVersion",
  "items.spec",
  "items.status.sync",
  "items.status.health",
  "items.status.argosy",
  "items.status.operationState.phase",
  "items.status.reconciledAt",
  "items.operation",
].join(",");

function uniq(values: string[]): string[] {
  return [...new Set(values.filter(Boolean))].sort();
}

function parseLabels(text: string): [string, string | null][] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const i = s.indexOf("=");
      return i < 0 ? [s, null] : [s.slice(0, i).trim(), s.slice(i + 1).trim()];
    });
}

interface Filters {
  search: string;
  project: string;
  cluster: string;
  namespace: string;
  labels: string;
  sync: string;
  health: string;
  drifted: boolean;
  held: boolean;
}
const NO_FILTERS: Filters = { search: "", project: "", cluster: "", namespace: "", labels: "", sync: "", health: "", drifted: false, held: false };

export function AppsListPage() {
  const [apps, setApps] = useState<Map<string, App> | null>(null);
  const [error, setError] = useState<unknown>();
  const [stream, setStream] = useState<string>("connecting");
  const [view, setView] = useState<"tiles" | "table">(() => (localStorage.getItem("argosy.view") as "tiles" | "table") || "tiles");
  const [f, setF] = useState<Filters>(() => {
    try {
      return { ...NO_FILTERS, ...JSON.parse(sessionStorage.getItem("argosy.filters") || "{}") };
    } catch {
      return NO_FILTERS;
    }
  });
  const pending = useRef<Map<string, App | null>>(new Map());
  const searchRef = useRef<HTMLInputElement>(null);

  useEffect(() => localStorage.setItem("argosy.view", view), [view]);
  useEffect(() => sessionStorage.setItem("argosy.filters", JSON.stringify(f)), [f]);

  useEffect(() => {
    let live = true;
    const t0 = performance.now();
    get<{ items: App[] | null }>(`/api/v1/applications?fields=${encodeURIComponent(LIST_FIELDS)}`).then(
      (r) => {
        if (!live) return;
        const m = new Map<string, App>();
        for (const a of r.items ?? []) m.set(a.metadata.name, a);
        setApps(m);
        requestAnimationFrame(() => {
          (window as unknown as { __argosyListRenderedMs?: number }).__argosyListRenderedMs = performance.now() - t0;
        });
      },
      (e) => live && setError(e),
    );
    // Live updates: batch stream events once per animation frame.
    let raf = 0;
    const flush = () => {
      raf = 0;
      const batch = pending.current;
      pending.current = new Map();
      setApps((prev) => {
        const m = new Map(prev ?? []);
        batch.forEach((a, name) => (a ? m.set(name, a) : m.delete(name)));
        return m;
      });
    };
    const stop = streamApplications(
      (e) => {
        pending.current.set(e.application.metadata.name, e.type === "DELETED" ? null : e.application);
        if (!raf) raf = requestAnimationFrame(flush);
      },
      (s, msg) => setStream(s === "open" ? "live" : `reconnecting (${msg ?? "error"})`),
    );
    return () => {
      live = false;
      stop();
      if (raf) cancelAnimationFrame(raf);
    };
  }, []);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "/" && document.activeElement?.tagName !== "INPUT") {
        e.preventDefault();
        searchRef.current?.focus();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  const all = useMemo(() => [...(apps?.values() ?? [])].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)), [apps]);
  const options = useMemo(
    () => ({
      projects: uniq(all.map(project)),
      clusters: uniq(all.map(cluster)),
      namespaces: uniq(all.map((a) => destination(a).namespace)),
    }),
    [all],
  );
  const shown = useMemo(() => {
    const q = f.search.trim().toLowerCase();
    const labels = parseLabels(f.labels);
    return all.filter((a) => {
      if (q && !a.metadata.name.toLowerCase().includes(q) && !(source(a).repoURL || "").toLowerCase().includes(q)) return false;
      if (f.project && project(a) !== f.project) return false;
      if (f.cluster && cluster(a) !== f.cluster) return false;
      if (f.namespace && destination(a).namespace !== f.namespace) return false;
      if (f.sync && syncStatus(a) !== f.sync) return false;
      if (f.health && healthStatus(a) !== f.health) return false;
      if (f.drifted && !drifted(a)) return false;
      if (f.held && !held(a)) return false;
      const l = a.metadata.labels ?? {};
      for (const [k, v] of labels) if (v === null ? !(k in l) : l[k] !== v) return false;
      return true;
    });
  }, [all, f]);

  const set = <K extends keyof Filters>(k: K, v: Filters[K]) => setF((old) => ({ ...old, [k]: v }));
  const active = JSON.stringify(f) !== JSON.stringify(NO_FILTERS);
  const counts = useMemo(() => {
    const c: Record<string, number> = {};
    for (const a of all) {
      c[syncStatus(a)] = (c[syncStatus(a)] ?? 0) + 1;
      c[healthStatus(a)] = (c[healthStatus(a)] ?? 0) + 1;
    }
    return c;
  }, [all]);

  return (
    <div className="page list-page">
      <div className="toolbar">
        <h1>Applications</h1>
        <input ref={searchRef} className="search" placeholder="Search applications  ( / )" aria-label="Search applications" value={f.search} onChange={(e) => set("search", e.target.value)} data-testid="search" />
        <div className="seg" role="group" aria-label="View">
          <button className={view === "tiles" ? "on" : ""} onClick={() => setView("tiles")} aria-pressed={view === "tiles"}>Tiles</button>
          <button className={view === "table" ? "on" : ""} onClick={() => setView("table")} aria-pressed={view === "table"} data-testid="view-table">Table</button>
        </div>
        <span className={`stream ${stream === "live" ? "ok" : ""}`} data-testid="stream-state" title="Live updates over /api/v1/stream/applications">● {stream}</span>
      </div>
      <div className="filters" aria-label="Filters">
        <Select label="Project" value={f.project} options={options.projects} onChange={(v) => set("project", v)} />
        <Select label="Cluster" value={f.cluster} options={options.clusters} onChange={(v) => set("cluster", v)} />
        <Select label="Namespace" value={f.namespace} options={options.namespaces} onChange={(v) => set("namespace", v)} />
        <Select label="Sync" value={f.sync} options={["Synced", "OutOfSync", "Unknown"]} onChange={(v) => set("sync", v)} counts={counts} />
        <Select label="Health" value={f.health} options={["Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"]} onChange={(v) => set("health", v)} counts={counts} />
        <label className="inline">Labels<input placeholder="env=prod,team" value={f.labels} onChange={(e) => set("labels", e.target.value)} aria-label="Label filter" /></label>
        <label className="check"><input type="checkbox" checked={f.drifted} onChange={(e) => set("drifted", e.target.checked)} />Drifted</label>
        <label className="check"><input type="checkbox" checked={f.held} onChange={(e) => set("held", e.target.checked)} />Rollback hold</label>
        {active && <button className="ghost" onClick={() => setF(NO_FILTERS)}>Clear filters</button>}
        <span className="muted count" data-testid="app-count">{apps ? `${shown.length} of ${all.length}` : ""}</span>
      </div>
      <ErrorBox error={error} title="Could not list applications" />
      {!apps && !error && <Spinner />}
      {apps && all.length === 0 && <Empty>No applications yet. Create one with <code>argosy app create</code> or <code>kubectl apply</code> an Application.</Empty>}
      {apps && all.length > 0 && shown.length === 0 && <Empty>No application matches these filters.</Empty>}
      {apps && shown.length > 0 && view === "tiles" && (
        <Windowed items={shown} rowHeight={150} columns={3} testid="app-tiles" render={(a) => <Tile app={a} />} />
      )}
      {apps && shown.length > 0 && view === "table" && (
        <div className="table-wrap">
          <div className="trow thead">
            <span>Name</span><span>Project</span><span>Sync</span><span>Health</span><span>Destination</span><span>Revision</span><span>Flags</span>
          </div>
          <Windowed items={shown} rowHeight={38} testid="app-table" render={(a) => <Row app={a} />} />
        </div>
      )}
    </div>
  );
}

function Select({ label, value, options, onChange, counts }: { label: string; value: string; options: string[]; onChange: (v: string) => void; counts?: Record<string, number> }) {
  return (
    <label className="inline">
      {label}
      <select value={value} onChange={(e) => onChange(e.target.value)} aria-label={`${label} filter`}>
        <option value="">all</option>
        {options.map((o) => (
          <option key={o} value={o}>{o}{counts && counts[o] !== undefined ? ` (${counts[o]})` : ""}</option>
        ))}
      </select>
    </label>
  );
}

function Flags({ app }: { app: App }) {
  const phase = app.status?.operationState?.phase;
  return (
    <>
      {drifted(app) && <Tag kind="warn">drifted</Tag>}
      {held(app) && <Tag kind="hold">rollback hold</Tag>}
      {app.operation && <Tag kind="info">operation running</Tag>}
      {!app.operation && phase && phase !== "Succeeded" && <Tag kind={phase === "Running" ? "info" : "bad"}>{phase}</Tag>}
    </>
  );
}

function Tile({ app }: { app: App }) {
  const src = source(app);
  const d = destination(app);
  const to = `/applications/${encodeURIComponent(app.metadata.name)}`;
  return (
    <div className="tile card" data-testid="app-tile" data-app={app.metadata.name} data-sync={syncStatus(app)} data-health={healthStatus(app)} role="link" tabIndex={0}
      onClick={() => navigate(to)} onKeyDown={(e) => e.key === "Enter" && navigate(to)}>
      <div className="tile-head">
        <Link to={to} className="app-name" onClick={(e) => e.stopPropagation()}>{app.metadata.name}</Link>
        <span className="muted small">{project(app)}</span>
      </div>
      <div className="badges"><SyncBadge status={syncStatus(app)} /> <HealthBadge status={healthStatus(app)} /></div>
      <div className="small ellipsis" title={src.repoURL}>{src.repoURL}{src.path ? ` · ${src.path}` : ""}{src.chart ? ` · ${src.chart}` : ""}</div>
      <div className="small ellipsis muted">{cluster(app)} / {d.namespace} · {short(app.status?.sync?.revision) || src.targetRevision || "HEAD"}</div>
      <div className="flags"><Flags app={app} /></div>
    </div>
  );
}

function Row({ app }: { app: App }) {
  const d = destination(app);
  return (
    <div className="trow" data-testid="app-row" data-app={app.metadata.name}>
      <Link to={`/applications/${encodeURIComponent(app.metadata.name)}`} className="app-name ellipsis">{app.metadata.name}</Link>
      <span className="ellipsis">{project(app)}</span>
      <span><SyncBadge status={syncStatus(app)} /></span>
      <span><HealthBadge status={healthStatus(app)} /></span>
      <span className="ellipsis" title={`${cluster(app)} / ${d.namespace}`}>{cluster(app)} / {d.namespace}</span>
      <span className="mono">{short(app.status?.sync?.revision)} <span className="muted small">{ago(app.status?.reconciledAt)}</span></span>
      <span className="flags"><Flags app={app} /></span>
    </div>
  );
}
