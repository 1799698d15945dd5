"""packaging/relay/: the systemd unit runs plait-relay as the docs say, with options the
relay accepts, on loopback, storing where systemd gives it a place to write."""

from __future__ import annotations

import configparser
import shlex
import socket
import subprocess
import sys
from pathlib import Path

from crdt_store.sync.relay.server import build_parser

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "packaging" / "relay" / "plait-relay.service"
README = ROOT / "packaging" / "relay" / "README.md"


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    return parser


def test_the_unit_starts_the_relay_on_loopback_in_its_state_directory() -> None:
    service = unit()["Service"]
    command = shlex.split(service["ExecStart"])
    assert Path(command[0]).name == "plait-relay"
    args = build_parser().parse_args(command[1:])  # exits 2 on an option the relay lacks
    assert args.host == "127.0.0.1", "the proxy serves the world; the relay stays on loopback"
    assert args.data == Path("/var/lib") / service["StateDirectory"]
    assert service["KillSignal"] == "SIGTERM"  # the relay's clean shutdown
    assert service["DynamicUser"] == "yes" and service["ProtectSystem"] == "strict"
    assert unit()["Install"]["WantedBy"] == "multi-user.target"


def test_the_unit_s_command_runs(tmp_path: Path) -> None:
    """The same options, with a free port and a temporary folder, start a relay that
    stops cleanly on SIGTERM as the unit expects."""
    command = shlex.split(unit()["Service"]["ExecStart"])[1:]
    command[command.index("--port") + 1] = "0"
    command[command.index("--data") + 1] = str(tmp_path / "data")
    proc = subprocess.Popen([sys.executable, "-m", "crdt_store.sync.relay.server", *command],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT)
    try:
        first = proc.stdout.readline()
        assert first.startswith("plait-relay listening on ws://127.0.0.1:"), proc.stderr.read()
        answer_once(int(first.rsplit(":", 1)[1]))  # its loop runs: SIGTERM is handled now
    finally:
        proc.terminate()
        assert proc.wait(30) == 0
    assert (tmp_path / "data" / "relay.sqlite3").exists()


def answer_once(port: int) -> bytes:
    """An HTTP request the relay's event loop must answer (any answer, or a close)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: relay\r\n\r\n")
        return conn.recv(200)


def test_the_docs_name_the_unit_and_the_proxy_settings_websockets_need() -> None:
    text = README.read_text(encoding="utf-8")
    assert "packaging/relay/plait-relay.service" in text
    for needed in ("proxy_http_version 1.1", "proxy_set_header Upgrade $http_upgrade",
                   'proxy_set_header Connection "upgrade"', "reverse_proxy 127.0.0.1:8765"):
        assert needed in text
