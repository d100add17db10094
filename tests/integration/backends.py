"""Brokers on the production backends: S3 (OpenStack Swift's S3 API) and etcd.

The test_backends_* modules use these fixtures (import them into the module).

- `services`: the shared etcd and Swift that tests/with-services.sh (make test) starts; it exports
  KAFSCALE_TEST_ETCD and KAFSCALE_TEST_S3_*. Without them the tests SKIP, or FAIL under CI=true
  (a CI run that silently skipped them would prove nothing).
- `private_services`: a dedicated etcd + Swift (scripts/etcd-test.sh and scripts/swift-test.sh with
  their own state directories) for fault tests, which stop and restart the servers: halting the
  shared ones would break tests of other runs that use them.
- `backend_broker_factory`: brokers whose object store is a fresh prefix of the bucket and whose
  metadata is a fresh etcd key prefix, with the S3 credentials in their environment only.
"""
import os
import subprocess
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import Broker, BrokerError, describe_exit

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = REPO_ROOT / 'scripts'
ENV_VARS = ('KAFSCALE_TEST_ETCD', 'KAFSCALE_TEST_S3_ENDPOINT', 'KAFSCALE_TEST_S3_ACCESS_KEY',
            'KAFSCALE_TEST_S3_SECRET', 'KAFSCALE_TEST_S3_BUCKET')
SCRIPT_TIMEOUT_S = 120  # a Swift start on a loaded 2-core machine takes up to ~20 s


def under_ci():
    return os.environ.get('CI', '').strip().lower() in ('1', 'true', 'yes')


def require(missing_what):
    """Skips the test, or fails it under CI, because `missing_what` is missing."""
    msg = (f'{missing_what}: these tests need etcd and an S3 server; run them through '
           f'tests/with-services.sh (what `make test` does)')
    if under_ci():
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


@dataclass
class Services:
    etcd: str  # http://host:port
    s3_endpoint: str  # http://host:port
    access_key: str
    secret: str
    bucket: str
    region: str = 'us-east-1'
    etcd_dir: str = None  # private instances only: their script state directories
    swift_dir: str = None
    log: list = field(default_factory=list)

    def object_store_url(self, prefix, bucket=None):
        endpoint = urllib.parse.quote(self.s3_endpoint, safe='')
        return (f's3://{bucket or self.bucket}/{prefix}?endpoint={endpoint}'
                f'&region={self.region}&path_style=true')

    def metadata_url(self, prefix):
        return f'etcd://{self.etcd.split("://", 1)[1]}/{prefix}'

    def credentials(self, secret=None):
        return {
            'AWS_ACCESS_KEY_ID': self.access_key,
            'AWS_SECRET_ACCESS_KEY': self.secret if secret is None else secret,
        }

    # Fault injection (private instances only).

    def _script(self, name, action, env_var, directory, extra_env=None):
        assert directory, 'fault injection needs private_services'
        env = dict(os.environ, **{env_var: directory}, **(extra_env or {}))
        started = time.monotonic()
        proc = subprocess.run(['bash', str(SCRIPTS / name), action], env=env, capture_output=True,
                              timeout=SCRIPT_TIMEOUT_S, stdin=subprocess.DEVNULL)
        self.log.append(f'{name} {action}: {time.monotonic() - started:.1f}s')
        if proc.returncode != 0:
            raise AssertionError(f'{name} {action} failed ({proc.returncode}):\n'
                                 f'{proc.stderr.decode(errors="replace")[-3000:]}')
        return proc.stdout.decode()

    def halt_swift(self):
        self._script('swift-test.sh', 'halt', 'KAFSCALE_SWIFT_DIR', self.swift_dir)

    def resume_swift(self):
        self._script('swift-test.sh', 'resume', 'KAFSCALE_SWIFT_DIR', self.swift_dir)

    def halt_etcd(self):
        self._script('etcd-test.sh', 'halt', 'KAFSCALE_ETCD_DIR', self.etcd_dir)

    def resume_etcd(self, extra_args=''):
        """Starts the halted etcd again; `extra_args` are added to its command line."""
        self._script('etcd-test.sh', 'resume', 'KAFSCALE_ETCD_DIR', self.etcd_dir,
                     {'KAFSCALE_ETCD_EXTRA_ARGS': extra_args})

    def etcdctl(self, *args, input=None):
        """Runs etcdctl (v3 API) against this etcd; returns its stdout."""
        proc = subprocess.run(['etcdctl', '--endpoints', self.etcd, '--command-timeout=10s'] +
                              [str(a) for a in args], env=dict(os.environ, ETCDCTL_API='3'),
                              capture_output=True, timeout=60, input=input or b'')
        if proc.returncode != 0:
            raise AssertionError(f'etcdctl {" ".join(map(str, args))} failed:\n'
                                 f'{proc.stderr.decode(errors="replace")[-2000:]}')
        return proc.stdout.decode()


def parse_swift_env(text):
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith('export ') and '=' in line:
            k, v = line[len('export '):].split('=', 1)
            values[k] = v
    return values


@pytest.fixture(scope='session')
def services():
    missing = [v for v in ENV_VARS if not os.environ.get(v)]
    if missing:
        require(f'{", ".join(missing)} not set')
    return Services(etcd=os.environ['KAFSCALE_TEST_ETCD'],
                    s3_endpoint=os.environ['KAFSCALE_TEST_S3_ENDPOINT'],
                    access_key=os.environ['KAFSCALE_TEST_S3_ACCESS_KEY'],
                    secret=os.environ['KAFSCALE_TEST_S3_SECRET'],
                    bucket=os.environ['KAFSCALE_TEST_S3_BUCKET'],
                    region=os.environ.get('KAFSCALE_TEST_S3_REGION', 'us-east-1'))


@pytest.fixture(scope='module')
def private_services(services, tmp_path_factory):
    """An etcd and a Swift of this module's own, stopped (and deleted) at the end."""
    base = tmp_path_factory.mktemp('private-services')
    # etcd fsyncs a lot: tmpfs keeps it fast, as the script's default does.
    etcd_dir = f'/dev/shm/kafscale-it-etcd-{os.getpid()}-{uuid.uuid4().hex[:6]}'
    swift_dir = str(base / 'swift')
    p = Services(etcd='', s3_endpoint='', access_key='', secret='', bucket='',
                 etcd_dir=etcd_dir, swift_dir=swift_dir)
    try:
        p.etcd = p._script('etcd-test.sh', 'start', 'KAFSCALE_ETCD_DIR', etcd_dir).strip()
        env = parse_swift_env(p._script('swift-test.sh', 'start', 'KAFSCALE_SWIFT_DIR', swift_dir))
        p.s3_endpoint = env['KAFSCALE_TEST_S3_ENDPOINT']
        p.access_key = env['KAFSCALE_TEST_S3_ACCESS_KEY']
        p.secret = env['KAFSCALE_TEST_S3_SECRET']
        p.bucket = env['KAFSCALE_TEST_S3_BUCKET']
        p.region = env.get('KAFSCALE_TEST_S3_REGION', 'us-east-1')
        yield p
    finally:
        for name, var, d in (('swift-test.sh', 'KAFSCALE_SWIFT_DIR', swift_dir),
                             ('etcd-test.sh', 'KAFSCALE_ETCD_DIR', etcd_dir)):
            subprocess.run(['bash', str(SCRIPTS / name), 'stop'], env=dict(os.environ, **{var: d}),
                           capture_output=True, timeout=SCRIPT_TIMEOUT_S, stdin=subprocess.DEVNULL)


class BackendBroker(Broker):
    """A Broker whose process gets `env` added to its environment (S3 credentials)."""

    def __init__(self, workdir, args=(), env=None):
        super().__init__(workdir, args)
        self.env = dict(env or {})

    def start(self, timeout=None):
        # Broker spawns with the test process's environment: set ours only around the spawn.
        saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        try:
            return super().start() if timeout is None else super().start(timeout)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def unique_prefix(hint):
    return f'it-{hint}-{uuid.uuid4().hex[:10]}'


def backend_args(svc, prefix, extra=()):
    return ['--object-store', svc.object_store_url(prefix), '--metadata', svc.metadata_url(prefix)
            ] + list(extra)


@pytest.fixture(scope='module')
def backend_broker_factory(tmp_path_factory, request):
    """make(svc, args=(), name=...) -> an unstarted BackendBroker on S3 + etcd of `svc`.

    Each broker gets its own bucket prefix and etcd prefix. All are stopped at module end; one
    that died, or did not exit 0 on SIGTERM, fails the module.
    """
    brokers = []

    def make(svc, args=(), name='broker', prefix=None, env=None):
        workdir = tmp_path_factory.mktemp(f'{request.module.__name__}-{name}')
        prefix = prefix or unique_prefix(name)
        # One broker per prefix restarts as node 0 at once: an automatic id (the default with
        # etcd) would wait out the previous process's lease after a kill -9. test_cluster_ids
        # covers automatic ids.
        if not any(str(a).startswith('--node-id') for a in args):
            args = ['--node-id=0'] + list(args)
        b = BackendBroker(workdir, backend_args(svc, prefix, args),
                          env=env if env is not None else svc.credentials())
        b.prefix = prefix
        brokers.append(b)
        return b

    yield make
    problems = []
    for b in brokers:
        was_running, was_alive = b.running, b.alive
        try:
            code = b.stop()
        except BrokerError as e:  # killed by stop(); the others still get stopped
            problems.append(str(e))
            continue
        if was_running and not was_alive:
            problems.append(f'broker died during the module ({describe_exit(code)}):\n'
                            f'{b.log_tail()}')
        elif was_running and code != 0:
            problems.append(f'broker exited with {describe_exit(code)} on SIGTERM:\n{b.log_tail()}')
    if problems:
        pytest.fail('\n\n'.join(problems))


def run_broker_expecting_exit(workdir, args, env, timeout=60):
    """Runs a `kafscale broker` that should fail to start; returns (exit code, output, seconds).

    Its environment has no AWS_* variables but those in `env`.
    """
    from conftest import BROKER_BIN
    if not os.path.isfile(BROKER_BIN):
        raise BrokerError(f'broker not built: {BROKER_BIN}')
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [BROKER_BIN, 'broker', '--listen', '127.0.0.1:0', '--data-dir', str(workdir / 'data')
           ] + [str(a) for a in args]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith('AWS_')}
    full_env.update(env)
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, env=full_env, capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, cwd=workdir)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f'broker did not exit within {timeout}s: {cmd}\n'
                             f'{((e.stdout or b"") + (e.stderr or b"")).decode(errors="replace")[-3000:]}')
    out = (proc.stdout + proc.stderr).decode(errors='replace')
    return proc.returncode, out, time.monotonic() - started
