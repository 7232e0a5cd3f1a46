"""Sandboxed Lua 5.1 health scripts, with Argo CD's ``health.lua`` contract.

The script sees one global, ``obj`` (the resource as a table), and returns a table
``{status = "<HealthStatus>", message = "<text>"}``.

Sandbox (decisions recorded in docs/health.md):

* a fresh Lua state per evaluation, so nothing leaks between resources;
* globals limited to the pure base functions plus copies of ``string`` (without ``dump``), ``table``
  and ``math``; no ``os``, ``io``, ``debug``, ``package``, ``require``, ``load*``, ``dofile``,
  ``getfenv``/``setfenv``, ``coroutine`` (hooks are per coroutine in 5.1) or ``python``;
* an instruction budget enforced with ``debug.sethook``: once exhausted, every further instruction
  raises, so ``pcall`` cannot swallow it;
* a memory ceiling through lupa's ``max_memory``.

Nothing here raises: every failure becomes an Unknown result carrying the error text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lupa import lua51

from argosy.model.health import HealthResult, HealthStatus

DEFAULT_INSTRUCTION_BUDGET = 10_000_000
DEFAULT_MEMORY_LIMIT = 32 * 1024 * 1024
BUDGET_EXCEEDED = "health script exceeded its instruction budget"
INVALID_STATUS = "Lua returned an invalid health status"

_SAFE_BASE = (
    "assert",
    "error",
    "ipairs",
    "next",
    "pairs",
    "pcall",
    "xpcall",
    "select",
    "tonumber",
    "tostring",
    "type",
    "unpack",
    "rawequal",
    "rawget",
    "rawset",
    "setmetatable",
    "getmetatable",
    "_VERSION",
)

# Runs in the state's real globals; it builds the sandbox and returns the runner.
_BOOTSTRAP = """
local script, chunkname, safe_names, budget_message = ...
local fn, err = loadstring(script, chunkname)
if not fn then return nil, err end
local function copy(t, skip)
  local out = {}
  for k, v in pairs(t) do if k ~= skip then out[k] = v end end
  return out
end
local env = {}
for _, name in ipairs(safe_names) do env[name] = _G[name] end
env.string = copy(string, "dump")
env.table = copy(table)
env.math = copy(math)
env._G = env
string.dump = nil
getmetatable("").__metatable = false
setfenv(fn, env)
local sethook, err_fn = debug.sethook, error
local function run(obj, budget)
  env.obj = obj
  local tripped = false
  local function on_budget()
    if not tripped then
      tripped = true
      sethook(on_budget, "", 1)
    end
    err_fn(budget_message, 0)
  end
  sethook(on_budget, "", budget)
  local ok, res = pcall(fn)
  sethook()
  return ok, res
end
return run
"""


@dataclass(frozen=True, slots=True)
class LuaLimits:
    """Resource limits for one evaluation."""

    instruction_budget: int = DEFAULT_INSTRUCTION_BUDGET
    memory_bytes: int = DEFAULT_MEMORY_LIMIT


def _plain(value: Any, depth: int = 0) -> Any:
    """JSON-like copy of ``value`` (unknown scalar types become strings), bounded in depth."""
    if depth > 100:
        raise ValueError("object is nested too deeply")
    if isinstance(value, Mapping):
        return {str(k): _plain(v, depth + 1) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v, depth + 1) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _to_lua(runtime: Any, value: Any) -> Any:
    if isinstance(value, dict):
        table = runtime.table()
        for key, item in value.items():
            table[key] = _to_lua(runtime, item)
        return table
    if isinstance(value, list):
        table = runtime.table()
        for index, item in enumerate(value, start=1):
            table[index] = _to_lua(runtime, item)
        return table
    return value


def _lua_text(value: Any) -> str:
    """A Lua scalar as text, numbers formatted as Lua's tostring would."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, int | str):
        return str(value)
    return f"<{lua51.lua_type(value) or type(value).__name__}>"


def _unknown(message: str) -> HealthResult:
    return HealthResult(status=HealthStatus.UNKNOWN, message=message)


def compile_error(script: str) -> str | None:
    """The syntax error of ``script``, or None when it compiles."""
    try:
        runtime = lua51.LuaRuntime(
            register_eval=False, register_builtins=False, max_memory=DEFAULT_MEMORY_LIMIT
        )
        loader = runtime.eval("function(s) local f, e = loadstring(s, '=health.lua'); return e end")
        err = loader(script)
    except Exception as exc:  # lupa raises its own error types; all mean "does not compile"
        return str(exc)
    return None if err is None else _lua_text(err)


def run_health_script(script: str, obj: Mapping[str, Any], limits: LuaLimits | None = None) -> HealthResult:
    """Evaluate a health.lua ``script`` against ``obj``; never raises."""
    limits = limits or LuaLimits()
    try:
        return _run(script, obj, limits)
    except lua51.LuaMemoryError:
        return _unknown("health script exceeded its memory limit")
    except lua51.LuaError as exc:
        text = str(exc)
        if BUDGET_EXCEEDED in text:
            return _unknown(BUDGET_EXCEEDED)
        return _unknown(text)
    except MemoryError:
        return _unknown("health script exceeded its memory limit")
    except Exception as exc:  # a misbehaving script must never crash assessment
        return _unknown(f"health script failed: {exc}")


def _run(script: str, obj: Mapping[str, Any], limits: LuaLimits) -> HealthResult:
    runtime = lua51.LuaRuntime(
        register_eval=False,
        register_builtins=False,
        unpack_returned_tuples=True,
        max_memory=limits.memory_bytes,
    )
    names = runtime.table(*_SAFE_BASE)
    bootstrap = runtime.execute(_BOOTSTRAP, script, "=health.lua", names, BUDGET_EXCEEDED)
    if isinstance(bootstrap, tuple):
        _nothing, err = bootstrap
        return _unknown(_lua_text(err))
    lua_obj = _to_lua(runtime, _plain(obj))
    ok, value = bootstrap(lua_obj, max(1, limits.instruction_budget))
    if not ok:
        message = value if isinstance(value, str) else _lua_text(value)
        if message == "not enough memory":
            message = "health script exceeded its memory limit"
        return _unknown(message)
    if lua51.lua_type(value) != "table":
        return _unknown(
            f"health script must return a table, got {lua51.lua_type(value) or _lua_text(value) or 'nil'}"
        )
    status = HealthStatus.parse(_lua_text(value["status"]))
    if status is None:
        return _unknown(INVALID_STATUS)
    return HealthResult(status=status, message=_lua_text(value["message"]))
