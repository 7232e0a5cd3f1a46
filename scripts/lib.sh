# Shared setup for scripts/run and scripts/test: idempotent, safe to run on every call.
# Installs Debian packages the tests need, the Python virtualenv, and builds the control plane
# (about 7 minutes the first time on 2 cores; cached under ~/.cache/argosy afterwards).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
APT_PACKAGES=(git git-lfs openssh-server openssh-client docker-registry slapd ldap-utils postgresql prometheus chromium)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

ensure_apt() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    say "Installing Debian packages: ${missing[*]}"
    local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

ensure_venv() {
  local stamp="$VENV/.argosy-stamp" want
  want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
  if [ ! -x "$VENV/bin/python" ]; then
    say "Creating the virtualenv in .venv"
    python3 -m venv "$VENV"
  fi
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "Installing Python packages (pip install -e .[dev])"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q -e "$ROOT[dev]"
    echo "$want" > "$stamp"
  fi
}

ensure_control_plane_binaries() {
  say "Control-plane binaries (built from the Go module proxy on first use: about 7 minutes, cached in ~/.cache/argosy)"
  "$VENV/bin/argosy" cluster build >/dev/null
}

ensure_ui() {
  # The web UI (ui/, React + TypeScript + Vite) built into src/argosy/ui/static with the machine's npm.
  # Skipped when the built index.html is newer than everything under ui/src, package-lock.json and the configs.
  local out="$ROOT/src/argosy/ui/static/index.html"
  if [ -f "$out" ] && [ -z "$(find "$ROOT/ui/src" "$ROOT/ui/package-lock.json" "$ROOT/ui/index.html" "$ROOT/ui/vite.config.ts" "$ROOT/ui/tsconfig.json" -newer "$out" 2>/dev/null | head -1)" ]; then
    say "Web UI is up to date (src/argosy/ui/static)"
    return
  fi
  command -v npm >/dev/null || { say "npm not found: cannot build the web UI (install Node.js 20)"; return 1; }
  say "Building the web UI (npm ci && npm run build in ui/)"
  (cd "$ROOT/ui" && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
}

setup_all() {
  ensure_apt
  ensure_venv
  ensure_ui
  ensure_control_plane_binaries
}
