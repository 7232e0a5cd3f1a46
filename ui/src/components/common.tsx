import { useEffect, useRef, useState, type ReactNode } from "react";
import { ApiError, canI } from "../api";

const SYNC_ICON: Record<string, string> = { Synced: "✔", OutOfSync: "↻", Unknown: "?" };
const HEALTH_ICON: Record<string, string> = { Healthy: "♥", Progressing: "◔", Degraded: "✖", Suspended: "⏸", Missing: "∅", Unknown: "?" };

export function SyncBadge({ status }: { status: string }) {
  return (
    <span className={`badge sync-${status}`} data-testid="sync-badge" title={`Sync status: ${status}`}>
      {SYNC_ICON[status] ?? "?"} {status}
    </span>
  );
}
export function HealthBadge({ status }: { status: string }) {
  return (
    <span className={`badge health-${status}`} data-testid="health-badge" title={`Health: ${status}`}>
      {HEALTH_ICON[status] ?? "?"} {status}
    </span>
  );
}
export function Tag({ children, kind = "" }: { children: ReactNode; kind?: string }) {
  return <span className={`tag ${kind}`}>{children}</span>;
}

export function ErrorBox({ error, title = "Something went wrong" }: { error: unknown; title?: string }) {
  if (!error) return null;
  const msg = error instanceof Error ? error.message : String(error);
  const status = error instanceof ApiError && error.status ? ` (HTTP ${error.status})` : "";
  return (
    <div className="error" role="alert" data-testid="error">
      <strong>{title}{status}:</strong> {msg}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty" data-testid="empty">{children}</div>;
}

export function Spinner({ label = "Loading…" }: { label?: string }) {
  return <div className="loading" aria-busy="true">{label}</div>;
}

/** Load once (and again when deps change); returns data, error, reload. */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[]): { data: T | undefined; error: unknown; loading: boolean; reload: () => void } {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setLoading(true);
    fn().then(
      (d) => {
        if (live) {
          setData(d);
          setError(undefined);
          setLoading(false);
        }
      },
      (e) => {
        if (live) {
          setError(e);
          setLoading(false);
        }
      },
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  return { data, error, loading, reload: () => setTick((t) => t + 1) };
}

/** RBAC: true only when `GET /api/v1/account/can-i/...` says yes (actions stay hidden until then). */
export function useCan(resource: string, action: string, object: string): boolean {
  const [ok, setOk] = useState(false);
  useEffect(() => {
    let live = true;
    canI(resource, action, object).then((v) => live && setOk(v));
    return () => {
      live = false;
    };
  }, [resource, action, object]);
  return ok;
}

export function Dialog({ title, onClose, children, testid }: { title: string; onClose: () => void; children: ReactNode; testid?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const prev = document.activeElement as HTMLElement | null;
    const first = ref.current?.querySelector<HTMLElement>("input, button, select, textarea");
    first?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") onClose();
    };
    window.addEventListener("keydown", onKey);
    return () => {
      window.removeEventListener("keydown", onKey);
      prev?.focus();
    };
  }, [onClose]);
  return (
    <div className="overlay" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div className="dialog" role="dialog" aria-modal="true" aria-label={title} ref={ref} data-testid={testid}>
        <div className="dialog-head">
          <h2>{title}</h2>
          <button className="ghost" onClick={onClose} aria-label="Close">✕</button>
        </div>
        {children}
      </div>
    </div>
  );
}

export function ago(time?: string): string {
  if (!time) return "";
  const t = Date.parse(time);
  if (Number.isNaN(t)) return time;
  const s = Math.round((Date.now() - t) / 1000);
  if (s < 60) return `${Math.max(s, 0)}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

export const short = (rev?: string) => (rev && /^[0-9a-f]{40}$/.test(rev) ? rev.slice(0, 7) : rev || "");
