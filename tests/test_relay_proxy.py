"""The nginx set-up in packaging/relay/README.md, for real: nginx terminates TLS on
loopback in front of a relay, and two devices share and join a notebook through
wss:// with the CLI.

nginx is Debian's, unpacked by tests/helpers/nginx.sh when it is not installed (no
service starts). The certificate is made here for 127.0.0.1; the devices trust it
through SSL_CERT_FILE, as they would trust a real CA.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest_plugins = ["tests.relay_fixtures"]  # the relay fixture

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "packaging" / "relay" / "README.md"
HELPERS = Path(__file__).parent / "helpers"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="uses Debian's nginx")


@pytest.fixture(scope="session")
def nginx_binary(tmp_path_factory) -> Path:
    try:
        proc = subprocess.run(["sh", str(HELPERS / "nginx.sh"),
                               str(tmp_path_factory.mktemp("nginx-package"))],
                              capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired as exc:
        pytest.skip(f"fetching Debian's nginx timed out: {exc}")
    if proc.returncode != 0:
        pytest.skip(f"nginx cannot be had here: {proc.stderr.strip()[-1000:]}")
    return Path(proc.stdout.strip().splitlines()[-1])


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1, valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def documented_server_block() -> str:
    blocks = re.findall(r"```nginx\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1, "the README has one nginx block"
    return blocks[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def plait(vault: Path, *args: str, keys: Path, cert: Path, stdin: str | None = None):
    env = {k: v for k, v in os.environ.items()
           if k not in ("PLAIT_FILE_KEYRING", "DBUS_SESSION_BUS_ADDRESS", "SSL_CERT_DIR")}
    env.update(PLAIT_VAULT=str(vault), PLAIT_FILE_KEYRING=str(keys), SSL_CERT_FILE=str(cert),
               PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    return subprocess.run([sys.executable, "-m", "app.cli", *args], input=stdin,
                          capture_output=True, text=True, env=env, timeout=120, check=False,
                          cwd=ROOT)


def test_two_devices_sync_through_the_documented_nginx_proxy(nginx_binary, relay,
                                                            tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    port = free_port()
    server = documented_server_block()
    server = server.replace("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;")
    server = server.replace("listen [::]:443 ssl;", "")
    server = re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {cert};", server)
    server = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", server)
    server = server.replace("http://127.0.0.1:8765", f"http://127.0.0.1:{relay.port}")
    assert str(relay.port) in server and str(cert) in server
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    conf = prefix / "nginx.conf"
    conf.write_text(f"""daemon off;
master_process off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
{server}
}}
""")
    proxy = subprocess.Popen([str(nginx_binary), "-p", str(prefix), "-c", str(conf),
                              "-e", str(prefix / "error.log")],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        context = ssl.create_default_context(cafile=str(cert))
        deadline = time.monotonic() + 30
        while True:  # wait until nginx answers TLS on its port
            assert proxy.poll() is None, proxy.stdout.read()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
                        context.wrap_socket(raw, server_hostname="127.0.0.1"):
                    break
            except OSError:
                assert time.monotonic() < deadline, (prefix / "error.log").read_text()
                time.sleep(0.05)  # polling a port that is not open yet
        url = f"wss://127.0.0.1:{port}"
        a, b = tmp_path / "a", tmp_path / "b"
        a_keys, b_keys = tmp_path / "a.json", tmp_path / "b.json"
        made = plait(a, "new", "--notebook", "Garden", keys=a_keys, cert=cert,
                     stdin="# Tomatoes\nwater daily\n")
        assert made.returncode == 0, made.stderr
        note = made.stdout.strip()
        shared = plait(a, "share", "Garden", "--relay", url, keys=a_keys, cert=cert)
        assert shared.returncode == 0, shared.stderr
        code = shared.stdout.splitlines()[1].removeprefix("Code: ")
        joined = plait(b, "join", code, keys=b_keys, cert=cert)
        assert joined.returncode == 0, joined.stderr
        assert "Joined “Garden”: 1 notes." in joined.stdout
        assert plait(b, "show", note, keys=b_keys, cert=cert).stdout == "# Tomatoes\nwater daily\n"
        log = (prefix / "access.log").read_text()
        assert " 101 " in log, f"no WebSocket upgrade went through nginx:\n{log}"
    finally:
        proxy.terminate()
        proxy.wait(30)
