"""Unit tests for the Lua health sandbox (argosy.core.health.lua)."""

from __future__ import annotations

import pytest

from argosy.core.health import HealthOverrides, LuaLimits, assess, run_health_script
from argosy.core.health.lua import BUDGET_EXCEEDED, INVALID_STATUS, compile_error
from argosy.model.health import HealthResult, HealthStatus

OBJ = {
    "apiVersion": "example.com/v1",
    "kind": "Widget",
    "metadata": {"name": "w"},
    "spec": {"items": ["a", "b"]},
}


def unknown(result: HealthResult) -> str:
    assert result.status is HealthStatus.UNKNOWN
    return result.message


def test_contract_obj_global_and_returned_table() -> None:
    script = """
hs = {}
if obj.spec ~= nil and #obj.spec.items == 2 then
  hs.status = "Healthy"
  hs.message = obj.metadata.name .. ":" .. obj.spec.items[1]
end
return hs
"""
    assert run_health_script(script, OBJ) == HealthResult(HealthStatus.HEALTHY, "w:a")


def test_numbers_and_missing_message() -> None:
    assert run_health_script('return {status = "Progressing", message = 3}', OBJ).message == "3"
    assert run_health_script('return {status = "Progressing"}', OBJ).message == ""


@pytest.mark.parametrize(
    "escape",
    [
        'return os.execute("id")',
        'return io.open("/etc/passwd"):read("*a")',
        'return require("os")',
        'return dofile("/etc/passwd")',
        'return loadfile("/etc/passwd")',
        'return loadstring("return 1")()',
        "return load(function() return nil end)",
        "return debug.getregistry()",
        "return getfenv(0).os",
        "return package.loaded.os",
        'return python.eval("1")',
        "return string.dump(print)",
        "return coroutine.create(print)",
        'return ("x"):dump()',
        'return getmetatable("").__index.dump',
    ],
)
def test_sandbox_escapes_are_blocked(escape: str) -> None:
    message = unknown(run_health_script(escape, OBJ))
    assert message  # an error, never a result leaking host access


def test_globals_are_not_leaked_from_host() -> None:
    script = """
local names = {}
for k, _ in pairs(_G) do names[#names + 1] = k end
table.sort(names)
return {status = "Healthy", message = table.concat(names, ",")}
"""
    res = run_health_script(script, OBJ)
    assert res.status is HealthStatus.HEALTHY
    visible = set(res.message.split(","))
    for forbidden in (
        "os",
        "io",
        "debug",
        "package",
        "require",
        "load",
        "loadstring",
        "dofile",
        "python",
        "setfenv",
    ):
        assert forbidden not in visible
    assert {"string", "table", "math", "pairs", "obj"} <= visible


def test_string_metatable_is_locked() -> None:
    res = run_health_script('return {status = "Healthy", message = tostring(getmetatable(""))}', OBJ)
    assert res.message == "false"


def test_infinite_loop_is_stopped_by_budget() -> None:
    res = run_health_script("while true do end", OBJ, LuaLimits(instruction_budget=100_000))
    assert unknown(res) == BUDGET_EXCEEDED


def test_budget_cannot_be_swallowed_by_pcall() -> None:
    script = "while true do pcall(function() while true do end end) end"
    res = run_health_script(script, OBJ, LuaLimits(instruction_budget=100_000))
    assert unknown(res) == BUDGET_EXCEEDED


def test_memory_limit() -> None:
    script = "local t = {} for i = 1, 1e8 do t[i] = string.rep('x', 100) .. i end return {status='Healthy'}"
    res = run_health_script(script, OBJ, LuaLimits(memory_bytes=4 * 1024 * 1024))
    assert "memory" in unknown(res)


def test_lua_error_becomes_unknown_with_message() -> None:
    assert unknown(run_health_script('error("boom")', OBJ)) == "health.lua:1: boom"
    assert "attempt to index" in unknown(run_health_script("return obj.nope.deeper", OBJ))
    assert unknown(run_health_script("error({})", OBJ))


def test_syntax_error_becomes_unknown() -> None:
    assert "expected" in unknown(run_health_script("this is not lua", OBJ))
    assert compile_error("this is not lua")
    assert compile_error("return {}") is None


def test_invalid_returns() -> None:
    assert unknown(run_health_script('return {status = "Fine"}', OBJ)) == INVALID_STATUS
    assert unknown(run_health_script('return {status = "healthy"}', OBJ)) == INVALID_STATUS
    assert unknown(run_health_script("return {}", OBJ)) == INVALID_STATUS
    assert "must return a table" in unknown(run_health_script('return "Healthy"', OBJ))
    assert "must return a table" in unknown(run_health_script("", OBJ))


def test_state_does_not_leak_between_runs() -> None:
    first = 'leaked = "yes"; return {status = "Healthy"}'
    second = 'return {status = "Healthy", message = tostring(leaked)}'
    run_health_script(first, OBJ)
    assert run_health_script(second, OBJ).message == "nil"


def test_failing_override_through_assess_is_unknown_not_exception() -> None:
    overrides = HealthOverrides.from_argocd_cm(
        {"resource.customizations.health.example.com_Widget": "while true do end"}
    )
    res = assess(OBJ, overrides=overrides, lua_limits=LuaLimits(instruction_budget=50_000))
    assert res == HealthResult(HealthStatus.UNKNOWN, BUDGET_EXCEEDED)
