"""The ``ldap_server`` fixture: a real OpenLDAP ``slapd`` on 127.0.0.1, one per test session.

It runs Debian's ``/usr/sbin/slapd`` (package ``slapd``, listed in ``scripts/lib.sh``) with its own
``slapd.conf`` (``-f``), an MDB database and a pid file, all under a temporary directory; it never
touches ``/etc/ldap`` or the system's slapd. The directory is seeded with ``slapadd`` before start:

* ``dc=sophia-intel-ai,dc=com`` with ``ou=users`` and ``ou=groups``;
* users ``alice`` (in ``artemis-developers`` and ``developers``) and ``bob`` (in ``developers``),
  ``inetOrgPerson`` entries with ``uid``, ``cn``, ``mail`` and a ``{SSHA}`` ``userPassword``;
* ``groupOfNames`` groups whose ``member`` values are user DNs;
* the service account is the rootdn ``cn=admin,dc=sophia-intel-ai,dc=com`` (as in spec §6.2).

Passwords are generated per session. ``LdapServer.stop`` kills slapd by its pid and removes the
directory; the session fixture calls it at teardown.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

__all__ = ["BASE_DN", "LdapServer", "dex_config", "ldap_server", "start_ldap_server"]

SLAPD = "/usr/sbin/slapd"
SLAPADD = shutil.which("slapadd") or "/usr/sbin/slapadd"
SLAPPASSWD = shutil.which("slappasswd") or "/usr/sbin/slappasswd"
SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")
LOOPBACK = "127.0.0.1"
BASE_DN = "dc=sophia-intel-ai,dc=com"


@dataclass
class LdapServer:
    root: Path
    port: int
    bind_dn: str
    bind_password: str = field(repr=False)
    users: dict[str, str] = field(repr=False)  # uid -> password
    process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def url(self) -> str:
        return f"ldap://{LOOPBACK}:{self.port}"

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def _ssha(password: str) -> str:
    out = subprocess.run([SLAPPASSWD, "-s", password], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"slapd exited with {proc.returncode}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.2)
            if s.connect_ex((LOOPBACK, port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("slapd did not start listening")


def _seed(users: dict[str, str]) -> str:
    people = {
        "alice": ("Alice Artemis", "alice@sophia-intel-ai.com"),
        "bob": ("Bob Builder", "bob@sophia-intel-ai.com"),
    }
    groups = {"artemis-developers": ["alice"], "developers": ["alice", "bob"]}
    blocks = [
        f"dn: {BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\n"
        "dc: sophia-intel-ai\no: Sophia Intel AI\n",
        f"dn: ou=users,{BASE_DN}\nobjectClass: organizationalUnit\nou: users\n",
        f"dn: ou=groups,{BASE_DN}\nobjectClass: organizationalUnit\nou: groups\n",
    ]
    for uid, (cn, mail) in people.items():
        sn = cn.split()[-1]
        blocks.append(
            f"dn: uid={uid},ou=users,{BASE_DN}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {cn}\nsn: {sn}\n"
            f"mail: {mail}\nuserPassword: {_ssha(users[uid])}\n"
        )
    for name, members in groups.items():
        member_lines = "".join(f"member: uid={m},ou=users,{BASE_DN}\n" for m in members)
        blocks.append(
            f"dn: cn={name},ou=groups,{BASE_DN}\nobjectClass: groupOfNames\ncn: {name}\n{member_lines}"
        )
    return "\n".join(blocks)


def start_ldap_server() -> LdapServer:
    if not Path(SLAPD).exists():
        pytest.skip("slapd is not installed (apt-get install slapd ldap-utils; scripts/lib.sh does it)")
    root = Path(tempfile.mkdtemp(prefix="argosy-slapd-"))
    server = LdapServer(
        root=root,
        port=_free_port(),
        bind_dn=f"cn=admin,{BASE_DN}",
        bind_password=secrets.token_urlsafe(18),
        users={"alice": secrets.token_urlsafe(12), "bob": secrets.token_urlsafe(12)},
    )
    try:
        db = root / "db"
        db.mkdir()
        conf = root / "slapd.conf"
        schemas = "".join(
            f"include {SCHEMA_DIR / name}.schema\n" for name in ("core", "cosine", "inetorgperson", "nis")
        )
        conf.write_text(
            f"{schemas}"
            f"modulepath {MODULE_DIR}\nmoduleload back_mdb\n"
            f"pidfile {root / 'slapd.pid'}\nargsfile {root / 'slapd.args'}\n"
            "loglevel none\n"
            "database mdb\nmaxsize 16777216\n"
            f'suffix "{BASE_DN}"\nrootdn "{server.bind_dn}"\nrootpw {_ssha(server.bind_password)}\n'
            f"directory {db}\n"
            "access to attrs=userPassword by self read by anonymous auth by * none\n"
            "access to * by users read by * none\n",
            encoding="utf-8",
        )
        seed = root / "seed.ldif"
        seed.write_text(_seed(server.users), encoding="utf-8")
        subprocess.run([SLAPADD, "-f", str(conf), "-l", str(seed)], check=True, capture_output=True)
        # -d keeps slapd in the foreground, so the pid we hold is slapd's own.
        server.process = subprocess.Popen(
            [SLAPD, "-f", str(conf), "-h", f"ldap://{LOOPBACK}:{server.port}/", "-d", "0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_listening(server.port, server.process)
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="session")
def ldap_server() -> Iterator[LdapServer]:
    server = start_ldap_server()
    try:
        yield server
    finally:
        server.stop()


def dex_config(server: LdapServer) -> str:
    """argocd-cm ``dex.config`` with one LDAP connector (id ``ldap``) for ``server``; the bind password
    is the ``$dex.ldap.bindPW`` key of argocd-secret."""
    return f"""\
connectors:
- type: ldap
  id: ldap
  name: LDAP
  config:
    host: {server.host}:{server.port}
    insecureNoSSL: true
    bindDN: cn=admin,{BASE_DN}
    bindPW: $dex.ldap.bindPW
    usernamePrompt: Username
    userSearch:
      baseDN: ou=users,{BASE_DN}
      filter: "(objectClass=person)"
      username: uid
      idAttr: uid
      emailAttr: mail
      nameAttr: cn
    groupSearch:
      baseDN: ou=groups,{BASE_DN}
      filter: "(objectClass=groupOfNames)"
      userMatchers:
      - userAttr: DN
        groupAttr: member
      nameAttr: cn
"""
