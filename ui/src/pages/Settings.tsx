import { useState, type FormEvent, type ReactNode } from "react";
import { del, enc, get, post, type Json } from "../api";
import { Empty, ErrorBox, Spinner, Tag, ago, useCan, useLoad } from "../components/common";
import { Link } from "../router";

const SECTIONS: [string, string][] = [
  ["repositories", "Repositories"],
  ["repocreds", "Credential templates"],
  ["clusters", "Clusters"],
  ["projects", "Projects"],
  ["accounts", "Accounts and tokens"],
];

export function SettingsPage({ section }: { section: string }) {
  return (
    <div className="page">
      <h1>Settings</h1>
      <div className="tabs" role="tablist">
        {SECTIONS.map(([s, label]) => (
          <Link key={s} to={`/settings/${s}`} role="tab" aria-selected={s === section} className={`tab ${s === section ? "on" : ""}`}>{label}</Link>
        ))}
      </div>
      <div className="tab-body">
        {section === "repositories" && <Repositories />}
        {section === "repocreds" && <RepoCreds />}
        {section === "clusters" && <Clusters />}
        {section === "projects" && <Projects />}
        {section === "accounts" && <Accounts />}
        {!SECTIONS.some(([s]) => s === section) && <Empty>Unknown settings section.</Empty>}
      </div>
    </div>
  );
}

function ListCard({ load, empty, children }: { load: { data?: Json; error: unknown }; empty: string; children: (items: Json[]) => ReactNode }) {
  if (load.error) return <ErrorBox error={load.error} title="Could not load" />;
  if (!load.data) return <Spinner />;
  const items: Json[] = load.data.items ?? [];
  if (!items.length) return <Empty>{empty}</Empty>;
  return <>{children(items)}</>;
}

function Conn({ state }: { state?: Json }) {
  if (!state?.status) return <span className="muted">—</span>;
  return <Tag kind={state.status === "Successful" ? "ok" : state.status === "Failed" ? "bad" : "info"}>{state.status}</Tag>;
}

function CredentialForm({ urlLabel, onSubmit, submitLabel }: { urlLabel: string; submitLabel: string; onSubmit: (body: Json) => Promise<void> }) {
  const [mode, setMode] = useState<"https" | "ssh">("https");
  const [f, setF] = useState({ url: "", username: "", password: "", sshPrivateKey: "", project: "" });
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    const body: Json = { type: "git", project: f.project || undefined };
    if (mode === "https") Object.assign(body, { username: f.username || "git", password: f.password });
    else body.sshPrivateKey = f.sshPrivateKey;
    try {
      await onSubmit({ ...body, url: f.url });
      setF({ url: "", username: "", password: "", sshPrivateKey: "", project: "" });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const bind = (k: keyof typeof f) => ({ value: f[k], onChange: (e: { target: { value: string } }) => setF({ ...f, [k]: e.target.value }) });
  return (
    <form className="card form" onSubmit={submit}>
      <div className="seg" role="group" aria-label="Connection method">
        <button type="button" className={mode === "https" ? "on" : ""} onClick={() => setMode("https")}>HTTPS token</button>
        <button type="button" className={mode === "ssh" ? "on" : ""} onClick={() => setMode("ssh")}>SSH key</button>
      </div>
      <label>{urlLabel}<input required {...bind("url")} placeholder={mode === "https" ? "https://git.example.com/org/repo.git" : "git@git.example.com:org/repo.git"} /></label>
      {mode === "https" ? (
        <>
          <label>Username<input {...bind("username")} placeholder="git" autoComplete="off" /></label>
          <label>Token<input type="password" {...bind("password")} autoComplete="new-password" /></label>
        </>
      ) : (
        <label>SSH private key<textarea rows={4} {...bind("sshPrivateKey")} placeholder="-----BEGIN OPENSSH PRIVATE KEY-----" /></label>
      )}
      <label>Project (optional)<input {...bind("project")} /></label>
      <ErrorBox error={error} title="Refused" />
      <button className="primary" type="submit" disabled={busy}>{busy ? "Saving…" : submitLabel}</button>
    </form>
  );
}

function Repositories() {
  const list = useLoad(() => get("/api/v1/repositories"), []);
  const canCreate = useCan("repositories", "create", "*");
  const canDelete = useCan("repositories", "delete", "*");
  return (
    <div className="split">
      <ListCard load={list} empty="No repositories configured. Public repositories need none.">
        {(items) => (
          <table className="grid card" data-testid="repositories">
            <thead><tr><th>Repository</th><th>Type</th><th>Project</th><th>Connection</th><th>Message</th><th /></tr></thead>
            <tbody>
              {items.map((r) => (
                <tr key={r.repo}><td className="mono">{r.repo}</td><td>{r.type || "git"}</td><td>{r.project || ""}</td><td><Conn state={r.connectionState} /></td><td className="small">{r.connectionState?.message}</td>
                  <td>{canDelete && <button className="ghost" onClick={() => void del(`/api/v1/repositories/${enc(r.repo)}`).then(list.reload, list.reload)}>Remove</button>}</td></tr>
              ))}
            </tbody>
          </table>
        )}
      </ListCard>
      {canCreate && (
        <div><h3>Connect a repository</h3><CredentialForm urlLabel="Repository URL" submitLabel="Connect" onSubmit={async (b) => { const { url, ...rest } = b; await post("/api/v1/repositories", { repo: url, ...rest }); list.reload(); }} /></div>
      )}
    </div>
  );
}

function RepoCreds() {
  const list = useLoad(() => get("/api/v1/repocreds"), []);
  const canCreate = useCan("repositories", "create", "*");
  return (
    <div className="split">
      <ListCard load={list} empty="No credential templates.">
        {(items) => (
          <table className="grid card">
            <thead><tr><th>URL prefix</th><th>Username</th><th>Kind</th><th /></tr></thead>
            <tbody>
              {items.map((r) => (
                <tr key={r.url}><td className="mono">{r.url}</td><td>{r.username}</td><td>{r.sshPrivateKey !== undefined ? "SSH" : "HTTPS"}</td>
                  <td>{canCreate && <button className="ghost" onClick={() => void del(`/api/v1/repocreds/${enc(r.url)}`).then(list.reload, list.reload)}>Remove</button>}</td></tr>
              ))}
            </tbody>
          </table>
        )}
      </ListCard>
      {canCreate && <div><h3>Add a credential template</h3><CredentialForm urlLabel="URL prefix" submitLabel="Save template" onSubmit={async (b) => { await post("/api/v1/repocreds", b); list.reload(); }} /></div>}
    </div>
  );
}

function Clusters() {
  const list = useLoad(() => get("/api/v1/clusters"), []);
  return (
    <ListCard load={list} empty="No clusters.">
      {(items) => (
        <table className="grid card" data-testid="clusters">
          <thead><tr><th>Name</th><th>Server</th><th>Version</th><th>Connection</th><th>Message</th></tr></thead>
          <tbody>
            {items.map((c) => (
              <tr key={c.server}><td>{c.name}</td><td className="mono">{c.server}</td><td>{c.serverVersion || c.info?.serverVersion || ""}</td><td><Conn state={c.connectionState || c.info?.connectionState} /></td><td className="small">{(c.connectionState || c.info?.connectionState)?.message}</td></tr>
            ))}
          </tbody>
        </table>
      )}
    </ListCard>
  );
}

function Projects() {
  const list = useLoad(() => get("/api/v1/projects"), []);
  return (
    <ListCard load={list} empty="No projects.">
      {(items) => (
        <table className="grid card" data-testid="projects">
          <thead><tr><th>Name</th><th>Description</th><th>Sources</th><th>Destinations</th><th>Sync windows</th></tr></thead>
          <tbody>
            {items.map((p) => (
              <tr key={p.metadata.name}><td>{p.metadata.name}</td><td>{p.spec?.description}</td><td className="small mono">{(p.spec?.sourceRepos ?? []).join(", ")}</td>
                <td className="small mono">{(p.spec?.destinations ?? []).map((d: Json) => `${d.name || d.server}/${d.namespace}`).join(", ")}</td>
                <td className="small">{(p.spec?.syncWindows ?? []).map((w: Json) => `${w.kind} ${w.schedule} ${w.duration}`).join("; ")}</td></tr>
            ))}
          </tbody>
        </table>
      )}
    </ListCard>
  );
}

function Accounts() {
  const list = useLoad(() => get("/api/v1/account"), []);
  const [newToken, setNewToken] = useState<{ account: string; token: string } | null>(null);
  const [error, setError] = useState<unknown>();
  const generate = async (account: string) => {
    setError(undefined);
    try {
      const r = await post<{ token: string }>(`/api/v1/account/${enc(account)}/token`, { name: account, expiresIn: 0 });
      setNewToken({ account, token: r.token });
      list.reload();
    } catch (e) {
      setError(e);
    }
  };
  const revoke = async (account: string, id: string) => {
    setError(undefined);
    try {
      await del(`/api/v1/account/${enc(account)}/token/${enc(id)}`);
      list.reload();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <>
      <ErrorBox error={error} title="Refused" />
      {newToken && <div className="notice" role="status">New token for {newToken.account} (shown once): <code className="mono wrap">{newToken.token}</code></div>}
      <ListCard load={list} empty="No accounts.">
        {(items) => (
          <table className="grid card" data-testid="accounts">
            <thead><tr><th>Account</th><th>Enabled</th><th>Capabilities</th><th>Tokens</th><th /></tr></thead>
            <tbody>
              {items.map((a) => (
                <tr key={a.name}><td>{a.name}</td><td>{a.enabled === false ? "no" : "yes"}</td><td>{(a.capabilities ?? []).join(", ")}</td>
                  <td className="small">{(a.tokens ?? []).map((t: Json) => (
                    <div key={t.id}>{t.id} · issued {ago(new Date((t.issuedAt ?? 0) * 1000).toISOString())}{t.expiresAt ? ` · expires ${new Date(t.expiresAt * 1000).toISOString()}` : ""} <button className="ghost tiny" onClick={() => void revoke(a.name, t.id)}>revoke</button></div>
                  ))}</td>
                  <td>{(a.capabilities ?? []).includes("apiKey") && <button onClick={() => void generate(a.name)}>Generate token</button>}</td></tr>
              ))}
            </tbody>
          </table>
        )}
      </ListCard>
    </>
  );
}
