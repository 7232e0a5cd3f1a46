// Flatten two objects to path -> value and compare. Paths use the same text form as the server's
// drift fields (argosy.core.diff.paths.format_path): `spec.replicas`, `data["a.b"]`, `containers[0]`.

/* eslint-disable @typescript-eslint/no-explicit-any */
const PLAIN = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

function seg(prefix: string, key: string | number): string {
  if (typeof key === "number") return `${prefix}[${key}]`;
  if (PLAIN.test(key)) return prefix ? `${prefix}.${key}` : key;
  return `${prefix}[${JSON.stringify(key)}]`;
}

export function flatten(value: any, prefix = "", out: Map<string, string> = new Map()): Map<string, string> {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0 && prefix) out.set(prefix, "{}");
    for (const k of keys) flatten(value[k], seg(prefix, k), out);
  } else if (Array.isArray(value)) {
    if (value.length === 0 && prefix) out.set(prefix, "[]");
    value.forEach((v, i) => flatten(v, seg(prefix, i), out));
  } else if (prefix) {
    out.set(prefix, typeof value === "string" ? value : JSON.stringify(value));
  }
  return out;
}

export interface DiffLine {
  path: string;
  desired: string | undefined;
  live: string | undefined;
}

const NOISE = /^(metadata\.(managedFields|resourceVersion|uid|generation|creationTimestamp|selfLink)|status)(\.|\[|$)/;

/** Fields that differ between desired and live. Fields only in live count only when drift names them
 *  (defaults added by the API server are not differences, as in Argo CD's diff). */
export function diffObjects(desired: any, live: any, driftPaths: Set<string>): DiffLine[] {
  const d = flatten(desired ?? {});
  const l = flatten(live ?? {});
  const out: DiffLine[] = [];
  const keys = new Set([...d.keys(), ...l.keys()]);
  for (const k of [...keys].sort()) {
    if (NOISE.test(k)) continue;
    const dv = d.get(k);
    const lv = l.get(k);
    if (dv === lv) continue;
    if (dv === undefined && desired && !driftPaths.has(k) && ![...driftPaths].some((p) => k.startsWith(p))) continue;
    out.push({ path: k, desired: dv, live: lv });
  }
  return out;
}
