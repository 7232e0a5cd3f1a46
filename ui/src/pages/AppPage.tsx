import { useCallback, useEffect, useMemo, useState } from "react";
import { del, destination, enc, get, healthStatus, post, project, source, streamApplications, syncStatus, type App, type Json } from "../api";
import { Dialog, Empty, ErrorBox, HealthBadge, Spinner, SyncBadge, Tag, ago, short, useCan, useLoad } from "../components/common";
import { diffObjects, flatten } from "../diff";
import { Link } from "../router";

type TabName = "summary" | "tree" | "diff" | "manifests" | "events" | "history";
const TABS: [TabName, string][] = [
  ["summary", "Summary"],
  ["tree", "Resource tree"],
  ["diff", "Diff"],
  ["manifests", "Manifests"],
  ["events", "Events"],
  ["history", "History"],
];

export interface ResKey {
  group: string;
  kind: string;
  namespace: string;
  name: string;
}
const keyOf = (r: Json): string => `${r.group || ""}/${r.kind}/${r.namespace || ""}/${r.name}`;

export function AppPage({ name }: { name: string }) {
  const [app, setApp] = useState<App>();
  const [error, setError] = useState<unknown>();
  const [tab, setTab] = useState<TabName>(() => (new URLSearchParams(location.search).get("tab") as TabName) || "summary");
  const [selected, setSelected] = useState<string | null>(null);
  const [dialog, setDialog] = useState<"sync" | null>(null);
  const [notice, setNotice] = useState<string>("");
  const [actionError, setActionError] = useState<unknown>();
  const obj = app ? `${project(app)}/${name}` : `*/${name}`;
  const canSync = useCan("applications", "sync", obj);
  const canRollback = useCan("applications", "sync", obj);

  const load = useCallback(
    (refresh?: "normal" | "hard") =>
      get<App>(`/api/v1/applications/${enc(name)}${refresh ? `?refresh=${refresh}` : ""}`).then(
        (a) => {
          setApp(a);
          setError(undefined);
        },
        (e) => setError(e),
      ),
    [name],
  );
  useEffect(() => {
    void load();
    const stop = streamApplications(
      (e) => {
        if (e.application.metadata.name !== name) return;
        if (e.type === "DELETED") setError(new Error(`application ${name} was deleted`));
        else setApp(e.application);
      },
      () => undefined,
      name,
    );
    // The stream carries every change; a slow poll covers servers without it.
    const timer = setInterval(() => void load(), 10000);
    return () => {
      stop();
      clearInterval(timer);
    };
  }, [name, load]);

  useEffect(() => {
    const u = new URL(location.href);
    u.searchParams.set("tab", tab);
    history.replaceState(null, "", u.pathname + u.search);
  }, [tab]);

  const act = async (label: string, fn: () => Promise<unknown>) => {
    setActionError(undefined);
    setNotice("");
    try {
      await fn();
      setNotice(label);
      await load();
    } catch (e) {
      setActionError(e);
    }
  };

  if (error && !app) return <div className="page"><p><Link to="/applications">← Applications</Link></p><ErrorBox error={error} title={`Could not load application ${name}`} /></div>;
  if (!app) return <div className="page"><Spinner /></div>;
  const running = Boolean(app.operation) || app.status?.operationState?.phase === "Running" || app.status?.operationState?.phase === "Terminating";

  return (
    <div className="page app-page" data-testid="app-page">
      <div className="toolbar">
        <Link to="/applications">← Applications</Link>
        <h1>{name}</h1>
        <SyncBadge status={syncStatus(app)} />
        <HealthBadge status={healthStatus(app)} />
        {app.status?.argosy?.drift?.detected && <Tag kind="warn">drifted</Tag>}
        {app.status?.argosy?.rollbackHold && <Tag kind="hold">rollback hold</Tag>}
        <div className="grow" />
        {canSync && <button className="primary" onClick={() => setDialog("sync")} data-testid="sync-button" disabled={running} title={running ? "an operation is in progress" : "Sync (s)"}>Sync</button>}
        <button onClick={() => void act("Refresh requested", () => load("normal"))} data-testid="refresh">Refresh</button>
        <button onClick={() => void act("Hard refresh requested", () => load("hard"))}>Hard refresh</button>
        {canSync && running && app.operation && (
          <button className="danger" data-testid="terminate" onClick={() => void act("Termination requested", () => del(`/api/v1/applications/${enc(name)}/operation`))}>Terminate</button>
        )}
      </div>
      {notice && <div className="notice" role="status">{notice}</div>}
      <ErrorBox error={actionError} title="The server refused" />
      {error ? <ErrorBox error={error} title="Live updates interrupted" /> : null}
      <Operation app={app} />
      <div className="tabs" role="tablist">
        {TABS.map(([t, label]) => (
          <button key={t} role="tab" aria-selected={tab === t} className={tab === t ? "on" : ""} onClick={() => setTab(t)} data-testid={`tab-${t}`}>{label}</button>
        ))}
      </div>
      <div className="tab-body">
        {tab === "summary" && <Summary app={app} />}
        {tab === "tree" && <Tree app={app} onOpen={(k) => { setSelected(k); setTab("diff"); }} />}
        {tab === "diff" && <DiffView app={app} selected={selected} onSelect={setSelected} />}
        {tab === "manifests" && <Manifests name={name} />}
        {tab === "events" && <Events name={name} version={app.metadata.resourceVersion} />}
        {tab === "history" && (
          <History app={app} canRollback={canRollback} onRollback={(id) => act(`Rollback to history ${id} requested`, () => post(`/api/v1/applications/${enc(name)}/rollback`, { id, name }))} />
        )}
      </div>
      {dialog === "sync" && <SyncDialog app={app} onClose={() => setDialog(null)} onDone={() => { setDialog(null); setNotice("Sync requested"); void load(); }} />}
    </div>
  );
}

function Operation({ app }: { app: App }) {
  const op = app.status?.operationState;
  if (!op && !app.operation) return null;
  const results: Json[] = op?.syncResult?.resources ?? [];
  const done = results.filter((r) => r.status && r.status !== "Running").length;
  return (
    <div className={`card operation phase-${op?.phase || "Pending"}`} data-testid="operation" data-phase={op?.phase || "Pending"}>
      <div className="row">
        <strong>Operation</strong>
        <Tag kind={op?.phase === "Succeeded" ? "ok" : op?.phase === "Failed" || op?.phase === "Error" ? "bad" : "info"}>{app.operation && !op?.phase ? "Pending" : op?.phase}</Tag>
        <span className="small">{op?.operation?.sync?.dryRun ? "dry run · " : ""}{op?.operation?.initiatedBy?.automated ? "automated" : op?.operation?.initiatedBy?.username ? `by ${op.operation.initiatedBy.username}` : ""}</span>
        <span className="muted small">{op?.startedAt ? `started ${ago(op.startedAt)}` : ""}{op?.finishedAt ? ` · finished ${ago(op.finishedAt)}` : ""}</span>
        {results.length > 0 && <span className="small">{done}/{results.length} resources</span>}
      </div>
      {op?.message && <div className="small" data-testid="operation-message">{op.message}</div>}
      {results.length > 0 && (
        <details>
          <summary className="small">Result per resource</summary>
          <table className="grid small">
            <thead><tr><th>Kind</th><th>Name</th><th>Phase</th><th>Status</th><th>Message</th></tr></thead>
            <tbody>
              {results.map((r, i) => (
                <tr key={i}><td>{r.kind}{r.hookType ? <Tag kind="hook">hook {r.hookType}</Tag> : null}</td><td>{r.namespace ? `${r.namespace}/` : ""}{r.name}</td><td>{r.syncPhase}</td><td>{r.hookPhase || r.status}</td><td>{r.message}</td></tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
    </div>
  );
}

function Summary({ app }: { app: App }) {
  const src = source(app);
  const d = destination(app);
  const rev: string = app.status?.sync?.revision || "";
  const meta = useLoad(() => (rev ? get(`/api/v1/applications/${enc(app.metadata.name)}/revisions/${enc(rev)}/metadata`) : Promise.resolve(null)), [rev]);
  const ar = app.status?.argosy ?? {};
  const hold = ar.rollbackHold;
  const origin: Record<string, string> = ar.policyOrigin ?? {};
  const conditions: Json[] = app.status?.conditions ?? [];
  return (
    <div className="summary-grid">
      <dl className="kv card" data-testid="summary">
        <dt>Project</dt><dd>{project(app)}</dd>
        <dt>Repository</dt><dd className="ellipsis">{src.repoURL}</dd>
        <dt>Path / chart</dt><dd>{src.path || src.chart || "—"}</dd>
        <dt>Target revision</dt><dd>{src.targetRevision || "HEAD"}</dd>
        <dt>Synced revision</dt><dd className="mono" data-testid="revision">{rev || "—"}</dd>
        {meta.data?.message ? (<><dt>Commit message</dt><dd>{meta.data.message}{meta.data.author ? ` — ${meta.data.author}` : ""}</dd></>) : null}
        <dt>Destination</dt><dd>{d.name || d.server} / {d.namespace}</dd>
        <dt>Last reconciled</dt><dd>{app.status?.reconciledAt ? `${app.status.reconciledAt} (${ago(app.status.reconciledAt)})` : "—"}</dd>
        <dt>Health message</dt><dd>{app.status?.health?.message || "—"}</dd>
      </dl>
      <div className="card" data-testid="sync-policy">
        <h3>Effective sync policy {ar.profile ? <Tag kind="info">profile: {ar.profile}</Tag> : null}</h3>
        {ar.effectiveSyncPolicy ? (
          <table className="grid small">
            <thead><tr><th>Field</th><th>Value</th><th>Origin</th></tr></thead>
            <tbody>
              {[...flatten(ar.effectiveSyncPolicy).entries()].map(([k, v]) => (
                <tr key={k}><td className="mono">{k}</td><td className="mono">{v}</td><td>{originOf(origin, k)}</td></tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p className="muted">{app.spec?.syncPolicy ? "Manual sync policy from the Application (no effective policy reported yet)." : "Manual sync (no automated policy)."}</p>
        )}
      </div>
      <div className="card" data-testid="rollback-hold">
        <h3>Rollback hold</h3>
        {hold ? (
          <p>Auto-sync is paused at <span className="mono">{short(hold.revision)}</span> since {hold.heldAt} {hold.reason ? `(${hold.reason})` : ""}{hold.historyId ? `, history ${hold.historyId}` : ""}. It is released when a new Git revision appears.</p>
        ) : (
          <p className="muted">No hold.</p>
        )}
      </div>
      <div className="card">
        <h3>Conditions</h3>
        {conditions.length === 0 ? <p className="muted">No conditions.</p> : (
          <ul className="conditions">
            {conditions.map((c, i) => (
              <li key={i} className={/Error/.test(c.type) ? "bad" : "warn"}><strong>{c.type}</strong> {c.message} <span className="muted small">{ago(c.lastTransitionTime)}</span></li>
            ))}
          </ul>
        )}
      </div>
    </div>
  );
}

function originOf(origin: Record<string, string>, path: string): string {
  let best = "";
  for (const k of Object.keys(origin)) if ((path === k || path.startsWith(`${k}.`) || path.startsWith(`${k}[`)) && k.length > best.length) best = k;
  return best ? (origin[best] as string) : "application";
}

interface TreeNode {
  key: string;
  res: Json;
  children: TreeNode[];
  hook?: string;
}

function buildTree(app: App, nodes: Json[]): TreeNode[] {
  const sync = new Map<string, Json>();
  for (const r of app.status?.resources ?? []) sync.set(keyOf(r), r);
  const byUid = new Map<string, TreeNode>();
  const all: TreeNode[] = nodes.map((n) => ({ key: keyOf(n), res: { ...n, status: n.status ?? sync.get(keyOf(n))?.status, requiresPruning: sync.get(keyOf(n))?.requiresPruning }, children: [] }));
  for (const t of all) if (t.res.uid) byUid.set(t.res.uid, t);
  const byKey = new Map(all.map((t) => [t.key, t]));
  const roots: TreeNode[] = [];
  for (const t of all) {
    const parent = (t.res.parentRefs ?? []).map((p: Json) => (p.uid && byUid.get(p.uid)) || byKey.get(keyOf(p))).find(Boolean) as TreeNode | undefined;
    if (parent && parent !== t) parent.children.push(t);
    else roots.push(t);
  }
  // Hooks never appear in status.resources; the last operation's results name them.
  for (const r of app.status?.operationState?.syncResult?.resources ?? []) {
    if (r.hookType && !byKey.has(keyOf(r))) roots.push({ key: `hook:${keyOf(r)}`, res: { ...r, health: r.hookPhase ? { status: r.hookPhase } : undefined }, children: [], hook: r.hookType });
  }
  return roots;
}

function Tree({ app, onOpen }: { app: App; onOpen: (key: string) => void }) {
  const tree = useLoad(() => get(`/api/v1/applications/${enc(app.metadata.name)}/resource-tree`), [app.metadata.resourceVersion]);
  const [open, setOpen] = useState<Set<string>>(new Set());
  const [rootOpen, setRootOpen] = useState(false);
  const roots = useMemo(() => buildTree(app, tree.data?.nodes ?? []), [app, tree.data]);
  if (tree.error) return <ErrorBox error={tree.error} title="Could not load the resource tree" />;
  if (!tree.data) return <Spinner />;
  const toggle = (k: string) => setOpen((s) => { const n = new Set(s); if (n.has(k)) n.delete(k); else n.add(k); return n; });
  const expandAll = () => {
    const keys = new Set<string>();
    const walk = (ts: TreeNode[]) => ts.forEach((t) => { keys.add(t.key); walk(t.children); });
    walk(roots);
    setOpen(keys);
    setRootOpen(true);
  };
  const render = (t: TreeNode, depth: number) => (
    <li key={t.key}>
      <div className="node" style={{ paddingLeft: depth * 18 }} data-testid="tree-node" data-kind={t.res.kind} data-name={t.res.name}>
        {t.children.length ? <button className="ghost tiny" aria-expanded={open.has(t.key)} onClick={() => toggle(t.key)}>{open.has(t.key) ? "▾" : "▸"}</button> : <span className="tiny-pad" />}
        <span className="kind">{t.res.kind}</span>
        <button className="link" onClick={() => onOpen(t.key)} title="Show the diff">{t.res.name}</button>
        {t.res.namespace && <span className="muted small">{t.res.namespace}</span>}
        {t.hook && <Tag kind="hook">hook {t.hook}</Tag>}
        {t.res.health?.status && <HealthBadge status={t.res.health.status} />}
        {t.res.status && !t.hook && <SyncBadge status={t.res.status} />}
        {t.res.requiresPruning && <Tag kind="warn">requires pruning</Tag>}
        {t.res.health?.message && <span className="muted small ellipsis">{t.res.health.message}</span>}
      </div>
      {open.has(t.key) && t.children.length > 0 && <ul>{t.children.map((c) => render(c, depth + 1))}</ul>}
    </li>
  );
  return (
    <div className="card tree" data-testid="tree">
      <div className="row"><button onClick={expandAll} data-testid="expand-all">Expand all</button><button onClick={() => { setOpen(new Set()); setRootOpen(false); }}>Collapse all</button><span className="muted small">{roots.length} top-level resources</span></div>
      <ul>
        <li>
          <div className="node root">
            <button className="ghost tiny" aria-expanded={rootOpen} onClick={() => setRootOpen(!rootOpen)} data-testid="tree-root-toggle">{rootOpen ? "▾" : "▸"}</button>
            <span className="kind">Application</span> <strong>{app.metadata.name}</strong> <SyncBadge status={syncStatus(app)} /> <HealthBadge status={healthStatus(app)} />
          </div>
          {rootOpen && (roots.length ? <ul>{roots.map((t) => render(t, 1))}</ul> : <Empty>This application manages no resources yet.</Empty>)}
        </li>
      </ul>
    </div>
  );
}

function DiffView({ app, selected, onSelect }: { app: App; selected: string | null; onSelect: (k: string) => void }) {
  const managed = useLoad(() => get(`/api/v1/applications/${enc(app.metadata.name)}/managed-resources`), [app.metadata.resourceVersion]);
  const items: Json[] = managed.data?.items ?? [];
  const driftByRes = useMemo(() => {
    const m = new Map<string, Json[]>();
    for (const f of app.status?.argosy?.drift?.fields ?? []) {
      const i = String(f.path).indexOf(":");
      const rk = String(f.path).slice(0, i);
      m.set(rk, [...(m.get(rk) ?? []), { ...f, field: String(f.path).slice(i + 1) }]);
    }
    return m;
  }, [app]);
  if (managed.error) return <ErrorBox error={managed.error} title="Could not load managed resources" />;
  if (!managed.data) return <Spinner />;
  if (items.length === 0) return <Empty>No managed resources.</Empty>;
  const cur = items.find((r) => keyOf(r) === selected) ?? items.find((r) => r.modified) ?? items[0];
  return (
    <div className="diff-layout">
      <ul className="res-list card" aria-label="Resources">
        {items.map((r) => (
          <li key={keyOf(r)}>
            <button className={`link ${cur === r ? "on" : ""}`} onClick={() => onSelect(keyOf(r))} data-testid="diff-resource" data-name={r.name}>
              {r.kind}/{r.name} {r.modified && <Tag kind="warn">OutOfSync</Tag>} {driftByRes.has(keyOf(r)) && <Tag kind="warn">drift</Tag>}
            </button>
          </li>
        ))}
      </ul>
      {cur && <ResourceDiff res={cur} drift={driftByRes.get(keyOf(cur)) ?? []} />}
    </div>
  );
}

function parse(s: string | undefined): Json {
  if (!s) return null;
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}

function ResourceDiff({ res, drift }: { res: Json; drift: Json[] }) {
  const live = parse(res.liveState);
  const desired = parse(res.targetState);
  const driftMap = new Map<string, Json>(drift.map((f) => [f.field, f]));
  const lines = desired ? diffObjects(desired, live, new Set(driftMap.keys())) : [];
  const liveFlat = flatten(live ?? {});
  const driftOnly = desired ? [] : drift;
  const managerOf = (path: string) => driftMap.get(path) ?? [...driftMap.entries()].find(([p]) => path.startsWith(`${p}.`) || path.startsWith(`${p}[`))?.[1];
  return (
    <div className="card diff" data-testid="resource-diff" data-name={res.name}>
      <h3>{res.kind} {res.namespace ? `${res.namespace}/` : ""}{res.name} {res.modified ? <Tag kind="warn">OutOfSync</Tag> : <Tag kind="ok">Synced</Tag>}</h3>
      {res.kind === "Secret" && <p className="muted small">Secret values are masked by the server.</p>}
      {!desired && <p className="muted small">The desired state is not available from this server; drifted fields are shown with their live values.</p>}
      {lines.length === 0 && driftOnly.length === 0 && <p className="muted">No differences.</p>}
      {(lines.length > 0 || driftOnly.length > 0) && (
        <table className="grid diff-table">
          <thead><tr><th>Field</th><th>Desired</th><th>Live</th><th>Changed by</th></tr></thead>
          <tbody>
            {lines.map((l) => {
              const f = managerOf(l.path);
              return (
                <tr key={l.path} className={f ? "drift" : ""} data-testid="diff-line" data-path={l.path}>
                  <td className="mono">{l.path}</td>
                  <td className="mono del">{l.desired ?? <span className="muted">(absent)</span>}</td>
                  <td className="mono add">{l.live ?? <span className="muted">(absent)</span>}</td>
                  <td>{f ? <span data-testid="drift-manager">{f.manager} <span className="muted small">{ago(f.time)}</span></span> : ""}</td>
                </tr>
              );
            })}
            {driftOnly.map((f) => (
              <tr key={f.field} className="drift" data-testid="diff-line" data-path={f.field}>
                <td className="mono">{f.field}</td>
                <td className="muted">—</td>
                <td className="mono add">{liveFlat.get(f.field) ?? [...liveFlat.entries()].filter(([k]) => k.startsWith(f.field)).map(([k, v]) => `${k}: ${v}`).join(", ")}</td>
                <td><span data-testid="drift-manager">{f.manager} <span className="muted small">{ago(f.time)}</span></span></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <details>
        <summary className="small">Live manifest</summary>
        <pre className="code" data-testid="live-manifest">{live ? JSON.stringify(live, null, 2) : "(not found in the cluster)"}</pre>
      </details>
      {desired && (
        <details>
          <summary className="small">Desired manifest</summary>
          <pre className="code">{JSON.stringify(desired, null, 2)}</pre>
        </details>
      )}
    </div>
  );
}

function Manifests({ name }: { name: string }) {
  const m = useLoad(() => get(`/api/v1/applications/${enc(name)}/manifests`), [name]);
  if (m.error) return <ErrorBox error={m.error} title="Manifests are not available" />;
  if (!m.data) return <Spinner />;
  const list: string[] = m.data.manifests ?? [];
  if (!list.length) return <Empty>No manifests rendered for this application.</Empty>;
  return (
    <div className="card">
      {list.map((s, i) => (
        <pre key={i} className="code">{JSON.stringify(parse(s), null, 2)}</pre>
      ))}
    </div>
  );
}

function Events({ name, version }: { name: string; version?: string }) {
  const ev = useLoad(() => get(`/api/v1/applications/${enc(name)}/events`), [name, version]);
  if (ev.error) return <ErrorBox error={ev.error} title="Could not load events" />;
  if (!ev.data) return <Spinner />;
  const items: Json[] = [...(ev.data.items ?? [])].sort((a, b) => String(b.lastTimestamp || b.eventTime || "").localeCompare(String(a.lastTimestamp || a.eventTime || "")));
  if (!items.length) return <Empty>No events.</Empty>;
  return (
    <table className="grid card" data-testid="events">
      <thead><tr><th>Type</th><th>Reason</th><th>Message</th><th>Count</th><th>Last seen</th></tr></thead>
      <tbody>
        {items.map((e, i) => (
          <tr key={i} className={e.type === "Warning" ? "warn" : ""}><td>{e.type}</td><td>{e.reason}</td><td>{e.message}</td><td>{e.count}</td><td>{ago(e.lastTimestamp || e.eventTime)}</td></tr>
        ))}
      </tbody>
    </table>
  );
}

function History({ app, canRollback, onRollback }: { app: App; canRollback: boolean; onRollback: (id: number) => Promise<void> }) {
  const [confirm, setConfirm] = useState<Json>(null);
  const hist: Json[] = [...(app.status?.history ?? [])].reverse();
  const current = hist[0]?.id;
  const automated = Boolean(app.spec?.syncPolicy?.automated);
  if (!hist.length) return <Empty>No deployments yet.</Empty>;
  return (
    <div className="card">
      {automated && <p className="muted small">Auto-sync is on: a rollback sets a rollback hold that pauses auto-sync until a new Git revision appears.</p>}
      <table className="grid" data-testid="history">
        <thead><tr><th>ID</th><th>Revision</th><th>Deployed</th><th>By</th><th /></tr></thead>
        <tbody>
          {hist.map((h) => (
            <tr key={h.id} data-testid="history-row" data-id={h.id}>
              <td>{h.id}{h.id === current ? <Tag kind="ok">current</Tag> : null}</td>
              <td className="mono">{short(h.revision)}</td>
              <td>{h.deployedAt} <span className="muted small">{ago(h.deployedAt)}</span></td>
              <td>{h.initiatedBy?.automated ? "auto-sync" : h.initiatedBy?.username || ""}</td>
              <td>{canRollback && h.id !== current && <button onClick={() => setConfirm(h)} data-testid="rollback">Rollback</button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {confirm && (
        <Dialog title={`Roll back to ${short(confirm.revision)}?`} onClose={() => setConfirm(null)} testid="rollback-dialog">
          <p>The application will be synced to history entry {confirm.id} ({confirm.revision}).</p>
          <div className="row end">
            <button onClick={() => setConfirm(null)}>Cancel</button>
            <button className="primary" data-testid="rollback-confirm" onClick={() => { const id = confirm.id; setConfirm(null); void onRollback(id); }}>Roll back</button>
          </div>
        </Dialog>
      )}
    </div>
  );
}

function SyncDialog({ app, onClose, onDone }: { app: App; onClose: () => void; onDone: () => void }) {
  const resources: Json[] = app.status?.resources ?? [];
  const [opts, setOpts] = useState({ prune: false, dryRun: false, force: false, applyOutOfSyncOnly: false, serverSide: false });
  const [revision, setRevision] = useState("");
  const [picked, setPicked] = useState<Set<string>>(new Set(resources.map(keyOf)));
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof opts) => setOpts((o) => ({ ...o, [k]: !o[k] }));
  const submit = async () => {
    setBusy(true);
    setError(undefined);
    const items: string[] = [];
    if (opts.applyOutOfSyncOnly) items.push("ApplyOutOfSyncOnly=true");
    if (opts.serverSide) items.push("ServerSideApply=true");
    const body: Json = { name: app.metadata.name, revision, prune: opts.prune, dryRun: opts.dryRun, strategy: { apply: { force: opts.force } } };
    if (items.length) body.syncOptions = { items };
    if (picked.size < resources.length) body.resources = resources.filter((r) => picked.has(keyOf(r))).map((r) => ({ group: r.group || "", kind: r.kind, name: r.name, namespace: r.namespace || "" }));
    try {
      await post(`/api/v1/applications/${enc(app.metadata.name)}/sync`, body);
      onDone();
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };
  return (
    <Dialog title={`Sync ${app.metadata.name}`} onClose={onClose} testid="sync-dialog">
      <label>Revision<input value={revision} placeholder={source(app).targetRevision || "HEAD"} onChange={(e) => setRevision(e.target.value)} /></label>
      <div className="options">
        <label className="check"><input type="checkbox" checked={opts.prune} onChange={() => set("prune")} />Prune</label>
        <label className="check"><input type="checkbox" checked={opts.dryRun} onChange={() => set("dryRun")} />Dry run</label>
        <label className="check"><input type="checkbox" checked={opts.force} onChange={() => set("force")} />Force (delete and re-create)</label>
        <label className="check"><input type="checkbox" checked={opts.applyOutOfSyncOnly} onChange={() => set("applyOutOfSyncOnly")} />Apply out-of-sync only</label>
        <label className="check"><input type="checkbox" checked={opts.serverSide} onChange={() => set("serverSide")} />Server-side apply</label>
      </div>
      {resources.length > 0 && (
        <fieldset className="res-pick">
          <legend>Resources ({picked.size}/{resources.length}) <button className="ghost tiny" onClick={() => setPicked(new Set(resources.map(keyOf)))}>all</button><button className="ghost tiny" onClick={() => setPicked(new Set())}>none</button></legend>
          {resources.map((r) => (
            <label key={keyOf(r)} className="check">
              <input type="checkbox" checked={picked.has(keyOf(r))} onChange={() => setPicked((s) => { const n = new Set(s); if (n.has(keyOf(r))) n.delete(keyOf(r)); else n.add(keyOf(r)); return n; })} />
              {r.kind}/{r.name} {r.status === "OutOfSync" && <Tag kind="warn">OutOfSync</Tag>}
            </label>
          ))}
        </fieldset>
      )}
      <ErrorBox error={error} title="Sync refused" />
      <div className="row end">
        <button onClick={onClose}>Cancel</button>
        <button className="primary" onClick={() => void submit()} disabled={busy || picked.size === 0} data-testid="sync-submit">{busy ? "Requesting…" : "Synchronize"}</button>
      </div>
    </Dialog>
  );
}
