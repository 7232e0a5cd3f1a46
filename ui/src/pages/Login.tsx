import { useState, type FormEvent } from "react";
import { get, post, setToken } from "../api";
import { ErrorBox, useLoad } from "../components/common";
import { navigate } from "../router";
import { useSession } from "../session";

interface SsoOption {
  key: string;
  name: string;
  /** oidc: oidc.config; dex: a dex.config connector that redirects (GitHub...); ldap: username and password here. */
  kind: "oidc" | "ldap" | "dex";
  connector?: string;
}

/** The SSO choices `GET /api/v1/settings` lists (Argo CD's shape): `oidcConfig` {name, issuer, ...} and
 *  `dexConfig.connectors` [{id, name, type}]. LDAP connectors take the username and password on this
 *  form (`POST /api/v1/session` tries them); the others redirect through `/auth/login`. */
export function ssoOptions(settings: any): SsoOption[] {  // eslint-disable-line @typescript-eslint/no-explicit-any
  const out: SsoOption[] = [];
  if (!settings) return out;
  const oidc = settings.oidcConfig;
  if (oidc && (oidc.name || oidc.issuer)) out.push({ key: "oidc", name: oidc.name || "OIDC", kind: "oidc" });
  for (const c of settings.dexConfig?.connectors ?? []) {
    if (!c || !c.id) continue;
    const name = c.name || c.type || c.id;
    out.push({ key: `dex-${c.id}`, name, kind: c.type === "ldap" ? "ldap" : "dex", connector: String(c.id) });
  }
  return out;
}

export function ssoHref(o: SsoOption, returnUrl: string): string {
  const ret = `return_url=${encodeURIComponent(returnUrl)}`;
  return o.kind === "dex" && o.connector ? `/auth/login?connector=${encodeURIComponent(o.connector)}&${ret}` : `/auth/login?${ret}`;
}

export function LoginPage() {
  const { refresh } = useSession();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [ldap, setLdap] = useState<string | null>(null);
  const settings = useLoad(() => get("/api/v1/settings"), []);
  const options = ssoOptions(settings.data);
  const returnTo = new URLSearchParams(location.search).get("return") || "/applications";
  const safeReturn = returnTo.startsWith("/") && !returnTo.startsWith("//") && !returnTo.startsWith("/login") ? returnTo : "/applications";

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const r = await post<{ token: string }>("/api/v1/session", { username, password });
      setToken(r.token);
      await refresh();
      navigate(safeReturn, true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="login">
      <form onSubmit={submit} className="card login-card" aria-label="Log in">
        <h1>⚓ Argosy</h1>
        <p className="muted">{ldap ? `Log in with your ${ldap} account` : "Log in with a local account"}</p>
        <label>Username<input name="username" autoComplete="username" autoFocus value={username} onChange={(e) => setUsername(e.target.value)} /></label>
        <label>Password<input name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} /></label>
        <ErrorBox error={error} title="Login failed" />
        <button type="submit" className="primary" disabled={busy || !username}>{busy ? "Signing in…" : "Sign in"}</button>
        {options.length > 0 && (
          <div className="sso">
            <div className="muted">or</div>
            {options.map((o) =>
              o.kind === "ldap" ? (
                <button type="button" key={o.key} onClick={() => setLdap(o.name)} data-testid="sso-ldap">Log in via {o.name}</button>
              ) : (
                <a key={o.key} className="button" data-testid={o.kind === "oidc" ? "sso-oidc" : "sso-dex"} data-connector={o.connector ?? ""} href={ssoHref(o, location.origin + safeReturn)}>Log in via {o.name}</a>
              ),
            )}
          </div>
        )}
        {settings.error ? <p className="muted small">Login options could not be loaded: {(settings.error as Error).message}</p> : null}
      </form>
    </div>
  );
}

export function UserInfoPage() {
  const { user, logout } = useSession();
  return (
    <div className="page">
      <h1>User info</h1>
      <dl className="kv card">
        <dt>Username</dt><dd data-testid="username">{user?.username}</dd>
        <dt>Issuer</dt><dd>{user?.iss || "argocd (local)"}</dd>
        <dt>Groups</dt><dd>{user?.groups?.length ? user.groups.join(", ") : <span className="muted">none</span>}</dd>
      </dl>
      <button onClick={() => void logout()}>Log out</button>
    </div>
  );
}
