"""Roster served for real over HTTP on 127.0.0.1 (gunicorn, two workers) for the tests that are about HTTP:
fuzzing, faults and concurrency. Also a private PostgreSQL instance (initdb in a temporary directory, on its
own port) that a test may stop and start."""

import glob
import os
import shutil
import socket
import subprocess
import sys
import time

import requests

from models.services.audit.signing import write_private_key

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def roster_env(database_url, instance_path, **extra):
    """The environment of a Roster process on `database_url`."""
    key_path = os.path.join(str(instance_path), "audit_signing_key.pem")
    if not os.path.exists(key_path):  # production mode requires the log's signing key (docs/audit.md)
        os.makedirs(str(instance_path), exist_ok=True)
        write_private_key(key_path)
    env = dict(os.environ, DATABASE_URL=database_url, SECRET_KEY="live-test", PUBLIC_URL="http://roster.test",
               ROSTER_INSTANCE_PATH=str(instance_path), PYTHONPATH=ROOT, SMTP_HOST="", AUDIT_SIGNING_KEY=key_path,
               RATE_LIMITS="off")  # the tests that turn limits on say so (tests/ops)
    env.update({key: str(value) for key, value in extra.items()})
    return env


def roster_cli(env, *args):
    """Run the `roster` command line in `env`; return its standard output."""
    done = subprocess.run([sys.executable, "-c", "import cli; cli.main()", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout.strip()


class LiveServer:
    """`gunicorn -w <workers> wsgi:app` on 127.0.0.1 in `env`; `url` is its base URL."""

    def __init__(self, env, workers=2, log_path=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(log_path or os.devnull, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{self.port}",
             "--timeout", "60", "--graceful-timeout", "5", "wsgi:app"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{self.url}/scim/v2/ServiceProviderConfig", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.2)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self.log.close()


def postgres_bin():
    """Return the directory of the Debian PostgreSQL server binaries, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return os.path.dirname(found[-1]) if found else None


class PrivatePostgres:
    """A PostgreSQL cluster of its own in `directory`, listening on 127.0.0.1 only, on a free port."""

    def __init__(self, directory):
        self.bin = postgres_bin()
        self.directory = str(directory)
        self.data = os.path.join(self.directory, "data")
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        # initdb and postgres refuse to run as root: run them as the postgres system user then.
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.prefix:
            shutil.chown(self.directory, "postgres")
        self._run("initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")

    def _run(self, tool, *args):
        done = subprocess.run(self.prefix + [os.path.join(self.bin, tool), *args], capture_output=True,
                              text=True, timeout=120, cwd=self.directory)
        assert done.returncode == 0, (tool, done.stdout, done.stderr)

    def start(self):
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} -c fsync=off"
        self._run("pg_ctl", "-D", self.data, "-o", options, "-l", os.path.join(self.directory, "log"), "-w",
                  "start")

    def stop(self, mode="fast"):
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def running(self):
        done = subprocess.run(self.prefix + [os.path.join(self.bin, "pg_ctl"), "-D", self.data, "status"],
                              capture_output=True, timeout=30)
        return done.returncode == 0
