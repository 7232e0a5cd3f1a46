"""Layer 1, the functional core: pure, deterministic decisions (health, sync plans, RBAC, diff).

May import: ``argosy.model``, sibling ``argosy.core`` modules, and pure third-party libraries
(PyYAML for parsing text already in memory, lupa for sandboxed Lua, casbin for policy matching).
Never: files, sockets, subprocesses, asyncio or the wall clock; callers pass those values in.
"""
