"""The TLS terminator on this machine: Debian's nginx with deploy/nginx/nginx.conf.template, in front of
a node (`make tls`, and the TLS tests).

    python -m csms.terminator --tls-port 8443 --upstream 127.0.0.1:8000 --certs .csms-ca -- python -m csms.node

renders the configuration into a run directory, starts nginx in the foreground as a child, runs the
command after `--` (the node) and stops nginx when that command ends. The certificates directory is
the embedded CA's (`manage.py ensure_ca` makes it): server-ecdsa/-rsa certificates and keys and the
CA (ca.pem) that client certificates must chain to.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent.parent / "deploy" / "nginx" / "nginx.conf.template"
PLACEHOLDER = re.compile(r"\$\{(CSMS_[A-Z_]+)\}")


def nginx_binary() -> str:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)
    if found is None:
        raise RuntimeError("nginx is not installed: apt-get install nginx-light (Debian's package)")
    return found


def render(values: dict[str, str]) -> str:
    text = TEMPLATE.read_text()
    missing = sorted(set(PLACEHOLDER.findall(text)) - set(values))
    if missing:
        raise ValueError(f"no value for {', '.join(missing)}")
    return PLACEHOLDER.sub(lambda match: values[match[1]], text)


class Terminator:
    """One nginx process terminating TLS on `tls_port` for `upstream` (host:port)."""

    def __init__(self, *, tls_port: int, upstream: str, cert_dir: Path, ca_file: Path | None = None,
                 run_dir: Path | None = None, listen_host: str = "127.0.0.1"):
        self.tls_port = tls_port
        self.listen_host = listen_host
        self.run_dir = Path(run_dir or tempfile.mkdtemp(prefix="csms-nginx-"))
        self.config = self.run_dir / "nginx.conf"
        self.values = {
            "CSMS_NGINX_WORKERS": "1",
            "CSMS_NGINX_RUN_DIR": str(self.run_dir),
            "CSMS_TLS_LISTEN": f"{listen_host}:{tls_port}",
            "CSMS_UPSTREAM": upstream,
            "CSMS_TLS_CERT_DIR": str(Path(cert_dir).resolve()),
            "CSMS_TLS_CA_FILE": str(Path(ca_file or Path(cert_dir) / "ca.pem").resolve()),
        }
        self.process: subprocess.Popen | None = None
        self.log_path = self.run_dir / "nginx.log"

    def start(self, timeout: float = 15) -> Terminator:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.config.write_text(render(self.values))
        log = open(self.log_path, "wb")
        self.process = subprocess.Popen([nginx_binary(), "-c", str(self.config), "-p", str(self.run_dir),
                                         "-e", "stderr", "-g", "daemon off;"], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.log()}")
            try:
                socket.create_connection((self.listen_host, self.tls_port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not listen on {self.tls_port}: {self.log()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: finish the handshakes in hand
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[argv.index("--") + 1:] if "--" in argv else []
    options = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tls-port", type=int, default=8443)
    parser.add_argument("--listen-host", default="127.0.0.1")
    parser.add_argument("--upstream", default="127.0.0.1:8000")
    parser.add_argument("--certs", type=Path, required=True, help="the embedded CA's directory (ensure_ca)")
    args = parser.parse_args(options)
    terminator = Terminator(tls_port=args.tls_port, upstream=args.upstream, cert_dir=args.certs,
                            listen_host=args.listen_host).start()
    print(f"TLS terminator (nginx) on wss://{args.listen_host}:{args.tls_port}/ocpp/{{chargeBoxId}} and "
          f"https://{args.listen_host}:{args.tls_port}/ in front of {args.upstream}; stations trust "
          f"{terminator.values['CSMS_TLS_CA_FILE']}", flush=True)
    if not command:
        try:
            return terminator.process.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            terminator.stop()
    child = subprocess.Popen(command)
    signal.signal(signal.SIGTERM, lambda *_: child.terminate())
    try:
        return child.wait()
    except KeyboardInterrupt:
        child.send_signal(signal.SIGINT)
        return child.wait()
    finally:
        terminator.stop()


if __name__ == "__main__":
    sys.exit(main())
