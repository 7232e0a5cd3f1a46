// The only way the UI talks to the server: Argosy's public REST API under /api/v1 (Argo CD's shapes)
// and the application stream (server-sent events read through fetch so the bearer token is sent).

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Json = any;

export const CSRF_HEADER = "x-argosy-csrf";
const TOKEN_KEY = "argosy.token";

export function getToken(): string {
  return sessionStorage.getItem(TOKEN_KEY) ?? "";
}
export function setToken(token: string): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  status: number;
  code: number | undefined;
  constructor(status: number, message: string, code?: number) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function headers(extra?: Record<string, string>): Record<string, string> {
  const h: Record<string, string> = { [CSRF_HEADER]: "1", Accept: "application/json", ...extra };
  const t = getToken();
  if (t) h.Authorization = `Bearer ${t}`;
  return h;
}

type UnauthorisedHandler = () => void;
let onUnauthorised: UnauthorisedHandler = () => undefined;
export function setUnauthorisedHandler(fn: UnauthorisedHandler): void {
  onUnauthorised = fn;
}

export async function api<T = Json>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }), credentials: "same-origin" };
  if (body !== undefined) init.body = JSON.stringify(body);
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, `cannot reach the server: ${(e as Error).message}`);
  }
  const text = await res.text();
  let data: Json = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { message: text };
    }
  }
  if (!res.ok) {
    const msg = (data && (data.message || data.error || data.detail)) || `${res.status} ${res.statusText}`;
    if (res.status === 401 && !path.startsWith("/api/v1/session")) onUnauthorised();
    throw new ApiError(res.status, typeof msg === "string" ? msg : JSON.stringify(msg), data?.code);
  }
  return data as T;
}

export const get = <T = Json>(p: string) => api<T>("GET", p);
export const post = <T = Json>(p: string, b?: unknown) => api<T>("POST", p, b ?? {});
export const put = <T = Json>(p: string, b?: unknown) => api<T>("PUT", p, b ?? {});
export const del = <T = Json>(p: string) => api<T>("DELETE", p);

export const enc = encodeURIComponent;

// --- Application helpers --------------------------------------------------------------------------

export interface App {
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; resourceVersion?: string; creationTimestamp?: string };
  spec: Json;
  status?: Json;
  operation?: Json;
}

export const syncStatus = (a: App): string => a.status?.sync?.status || "Unknown";
export const healthStatus = (a: App): string => a.status?.health?.status || "Unknown";
export const drifted = (a: App): boolean => Boolean(a.status?.argosy?.drift?.detected);
export const held = (a: App): boolean => Boolean(a.status?.argosy?.rollbackHold);
export const project = (a: App): string => a.spec?.project || "default";
export function source(a: App): Json {
  return a.spec?.source || (a.spec?.sources && a.spec.sources[0]) || {};
}
export function destination(a: App): { server: string; name: string; namespace: string } {
  const d = a.spec?.destination || {};
  return { server: d.server || "", name: d.name || "", namespace: d.namespace || "" };
}
export const cluster = (a: App): string => {
  const d = destination(a);
  return d.name || d.server;
};

// --- RBAC ----------------------------------------------------------------------------------------

const canCache = new Map<string, Promise<boolean>>();
export function canI(resource: string, action: string, object: string): Promise<boolean> {
  const key = `${resource}/${action}/${object}`;
  let p = canCache.get(key);
  if (!p) {
    p = get<{ value: string }>(`/api/v1/account/can-i/${enc(resource)}/${enc(action)}/${object.split("/").map(enc).join("/")}`)
      .then((r) => r.value === "yes")
      .catch(() => false);
    canCache.set(key, p);
  }
  return p;
}
export function clearCanCache(): void {
  canCache.clear();
}

// --- Stream ---------------------------------------------------------------------------------------

export interface StreamEvent {
  type: string;
  application: App;
}

/** Read `GET /api/v1/stream/applications` (text/event-stream) with fetch; reconnects with backoff.
 *  Returns a function that stops the stream. */
export function streamApplications(onEvent: (e: StreamEvent) => void, onState: (s: "open" | "error", msg?: string) => void, name?: string): () => void {
  let stopped = false;
  let ctrl: AbortController | null = null;
  let delay = 1000;
  const run = async () => {
    while (!stopped) {
      ctrl = new AbortController();
      try {
        const res = await fetch(`/api/v1/stream/applications${name ? `?name=${enc(name)}` : ""}`, { headers: headers({ Accept: "text/event-stream" }), signal: ctrl.signal });
        if (!res.ok || !res.body) {
          let msg = `${res.status}`;
          try {
            const j = await res.json();
            msg = j.message || j.error || msg;
          } catch {
            /* keep status */
          }
          throw new Error(msg);
        }
        onState("open");
        delay = 1000;
        const reader = res.body.getReader();
        const dec = new TextDecoder();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let idx: number;
          while ((idx = buf.search(/\r?\n\r?\n/)) >= 0) {
            const chunk = buf.slice(0, idx);
            buf = buf.slice(idx).replace(/^\r?\n\r?\n/, "");
            const data = chunk
              .split(/\r?\n/)
              .filter((l) => l.startsWith("data:"))
              .map((l) => l.slice(5).trimStart())
              .join("\n");
            if (!data) continue;
            try {
              const j = JSON.parse(data);
              const r = j.result ?? j;
              if (r && r.application) onEvent({ type: r.type, application: r.application });
            } catch {
              /* ignore keep-alives and malformed lines */
            }
          }
        }
        if (!stopped) onState("error", "stream closed; reconnecting");
      } catch (e) {
        if (stopped) return;
        onState("error", (e as Error).message);
      }
      if (stopped) return;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15000);
    }
  };
  void run();
  return () => {
    stopped = true;
    ctrl?.abort();
  };
}
