"""Fixtures for the integration suite: real `kafscale broker` processes and real clients.

Each test module gets its own broker in a fresh temporary directory. A module
can set BROKER_ARGS (a list of extra command-line flags) to configure it.
KAFSCALE_BIN overrides the broker binary (default: build/kafscale).
KAFSCALE_EXPECT_LIBRDKAFKA (set by tests/run-integration.sh for its 2.15 pass) makes the session
refuse to start unless confluent-kafka-python loaded that librdkafka version.
KAFSCALE_SANITIZED=1 (set by `make test-sanitize`): the broker is built with AddressSanitizer +
UndefinedBehaviorSanitizer. Every kafscale process the tests start writes its ASan and LSan reports to
one directory (ASAN_OPTIONS log_path) and its UBSan reports to stderr (broker-N.log); a report that
appears during a test's setup, call or teardown fails that test with the report, whatever the process's exit code was and whether the test
meant to kill or restart it. Timing bounds are loosened (timing_bound); correctness checks are not.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import confluent_kafka
import pytest

import kafka_helpers

REPO_ROOT = Path(__file__).resolve().parents[2]
BROKER_BIN = os.path.abspath(os.environ.get('KAFSCALE_BIN', REPO_ROOT / 'build' / 'kafscale'))
NODE_DIR = Path(__file__).resolve().parent / 'node'

START_TIMEOUT_S = 30  # a broker that is not serving by then is broken
STOP_TIMEOUT_S = 30  # SIGTERM flushes; a clean stop takes far less
HTTP_TIMEOUT_S = 5
LOG_TAIL_BYTES = 6000  # how much of the broker's output a failure shows


SANITIZED = os.environ.get('KAFSCALE_SANITIZED') == '1'
SANITIZER_LOG_DIR = None  # set by pytest_configure when SANITIZED
SANITIZER_SLOWDOWN = 3  # how much more time a timing bound allows under a sanitized Debug build


# KAFSCALE_SANITIZE_SUBSET=1 (make test-sanitize) runs only these modules against the sanitized broker, to keep
# CI under its hour: protocol decoding and bad input, produce/fetch with every client family's codecs,
# consumer groups, idempotence, SIGKILL durability and one cluster suite (README.md "Tests").
SANITIZE_SUBSET_MODULES = (
    'test_protocol_versions', 'test_bad_input', 'test_confluent', 'test_kcat', 'test_compression',
    'test_groups_protocol', 'test_groups_confluent', 'test_idempotence_protocol', 'test_durability',
    'test_admin', 'test_cluster', 'test_security', 'test_scram_admin',
)


def pytest_collection_modifyitems(config, items):
    if os.environ.get('KAFSCALE_SANITIZE_SUBSET') != '1':
        return
    keep = [i for i in items if i.module.__name__ in SANITIZE_SUBSET_MODULES]
    config.hook.pytest_deselected(items=[i for i in items if i not in keep])
    items[:] = keep


def timing_bound(seconds):
    """A bound on how long the broker takes for something: loosened for a sanitized Debug broker.

    Only for asserts about elapsed time; a correctness check never goes through this.
    """
    return seconds * SANITIZER_SLOWDOWN if SANITIZED else seconds


LIBRDKAFKA_VERSION, LIBRDKAFKA_VERSION_INT = confluent_kafka.libversion()
LIBRDKAFKA_2_15 = 0x020F0000  # librdkafka's version int: 0xMMmmrrpp


def pytest_report_header(config):
    return f'librdkafka {LIBRDKAFKA_VERSION} (confluent-kafka-python {confluent_kafka.version()[0]})'


def pytest_configure(config):
    want = os.environ.get('KAFSCALE_EXPECT_LIBRDKAFKA')
    if want and not (LIBRDKAFKA_VERSION == want or LIBRDKAFKA_VERSION.startswith(want + '.')):
        pytest.exit(f'KAFSCALE_EXPECT_LIBRDKAFKA={want} but confluent-kafka-python loaded librdkafka '
                    f'{LIBRDKAFKA_VERSION} (LD_LIBRARY_PATH={os.environ.get("LD_LIBRARY_PATH", "")!r})',
                    returncode=3)
    if SANITIZED:
        global SANITIZER_LOG_DIR
        SANITIZER_LOG_DIR = Path(tempfile.mkdtemp(prefix='kafscale-sanitizer-'))
        # Inherited by every process the tests start; the last setting of a flag wins, so ours come after
        # the caller's options. ASan and LeakSanitizer: log_path=DIR/report writes DIR/report.PID (LSan
        # stays on, the ASan default: a leak at a clean exit is a finding too). g++ links UBSan as its own
        # runtime (libubsan), which ignores log_path and writes to stderr: a broker's stderr is its
        # broker-N.log, scanned below for "runtime error:", and abort_on_error=1 makes a UBSan death a
        # SIGABRT, which no test expects, rather than exit code 1, which some tests of bad settings do.
        def add(var, *flags):
            opts = [o for o in os.environ.get(var, '').split(':') if o]
            os.environ[var] = ':'.join(opts + list(flags))
        add('ASAN_OPTIONS', f'log_path={SANITIZER_LOG_DIR}/report')
        add('UBSAN_OPTIONS', 'print_stacktrace=1', 'abort_on_error=1')


_seen_sanitizer_reports = set()
_broker_log_offsets = {}  # broker-N.log -> bytes already scanned for UBSan reports
UBSAN_REPORT = re.compile(rb'^.*runtime error: .*$', re.MULTILINE)


def new_sanitizer_reports(basetemp):
    """Sanitizer reports written since the last call: [(where, text)]."""
    if SANITIZER_LOG_DIR is None:
        return []
    new = []
    for f in sorted(SANITIZER_LOG_DIR.iterdir()):
        if f.name not in _seen_sanitizer_reports:
            _seen_sanitizer_reports.add(f.name)
            new.append((str(f), f.read_text(errors='replace')))
    for f in sorted(basetemp.rglob('broker-*.log')):
        start = _broker_log_offsets.get(f, 0)
        with open(f, 'rb') as fh:
            fh.seek(start)
            data = fh.read()
        # Only whole lines: a line being written is scanned next time.
        data = data[:data.rfind(b'\n') + 1]
        _broker_log_offsets[f] = start + len(data)
        m = UBSAN_REPORT.search(data)
        if m:
            new.append((str(f), data[m.start():].decode('utf-8', 'replace')[:LOG_TAIL_BYTES]))
    return new


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    reports = new_sanitizer_reports(item.config._tmp_path_factory.getbasetemp())
    if not reports:
        return
    report = outcome.get_result()
    text = '\n\n'.join(f'--- {where} ---\n{body}' for where, body in reports)
    report.outcome = 'failed'
    report.longrepr = (f'sanitizer report(s) from a kafscale process during {report.when}:\n{text}'
                       + (f'\n\n(the {report.when} also failed:)\n{report.longrepr}' if report.longrepr else ''))


def pytest_sessionfinish(session, exitstatus):
    # Written after the last test's teardown.
    reports = new_sanitizer_reports(session.config._tmp_path_factory.getbasetemp()) if SANITIZED else []
    if reports:
        for where, body in reports:
            print(f'\n--- sanitizer report in {where} (after the last test) ---\n{body}')
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if SANITIZER_LOG_DIR is not None and not any(SANITIZER_LOG_DIR.iterdir()):
        SANITIZER_LOG_DIR.rmdir()


def pytest_runtest_setup(item):
    if item.get_closest_marker('librdkafka_2_15') and LIBRDKAFKA_VERSION_INT < LIBRDKAFKA_2_15:
        pytest.fail(f'this test needs librdkafka 2.15 and this process loaded {LIBRDKAFKA_VERSION}: run it with '
                    '`LIBRDKAFKA=2.15 bash tests/run-integration.sh -k ...` (scripts/install-deps.sh --test '
                    'builds that librdkafka)', pytrace=False)


class BrokerError(Exception):
    pass


def describe_exit(code):
    if code is not None and code < 0:
        try:
            return f'signal {signal.Signals(-code).name}'
        except ValueError:
            return f'signal {-code}'
    return f'code {code}'


class Metrics:
    """A parsed Prometheus text exposition: samples keyed by (name, sorted labels)."""

    _LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?\s*$')
    _LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"')

    def __init__(self, text):
        self.text = text
        self.samples = {}
        self.families = set()  # names announced by # TYPE / # HELP
        for line in text.splitlines():
            line = line.strip()
            if not line:
                continue
            if line.startswith('#'):
                parts = line.split()
                if len(parts) >= 3 and parts[1] in ('TYPE', 'HELP'):
                    self.families.add(parts[2])
                continue
            m = self._LINE.match(line)
            if not m:
                raise AssertionError(f'unparseable /metrics line: {line!r}')
            labels = tuple(sorted(self._LABEL.findall(m.group(2) or '')))
            self.samples[(m.group(1), labels)] = float(m.group(3))

    def has(self, name):
        return name in self.families or any(n == name for n, _ in self.samples)

    def get(self, name, **labels):
        """Sum of every sample of `name` whose labels include `labels` (0 if none yet)."""
        if not self.has(name):
            raise AssertionError(f'metric {name} is not exported; /metrics was:\n'
                                 f'{self.text[:3000]}')
        want = set(labels.items())
        return sum(v for (n, ls), v in self.samples.items() if n == name and want <= set(ls))


class Broker:
    """One broker process on a data directory that survives restarts."""

    def __init__(self, workdir, args=(), env=None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.workdir / 'data'
        self.data_dir.mkdir(exist_ok=True)
        self.ready_file = self.workdir / 'ready.json'
        self.args = [str(a) for a in args]
        self.env = {**os.environ, **(env or {})}  # e.g. KAFSCALE_<SETTING> variables
        self.proc = None
        self.kafka = None  # "127.0.0.1:PORT", kept across restarts
        self.http = None
        self.listeners = {}
        self.running = False  # whether the test expects the process to be up
        self.starts = 0
        self.log_path = None
        self.start_error = None  # set by the fixture when a start failed

    @property
    def bootstrap(self):
        return self.kafka

    @property
    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self):
        if not self.log_path or not self.log_path.exists():
            return '(no broker output)'
        data = self.log_path.read_bytes()[-LOG_TAIL_BYTES:]
        return data.decode('utf-8', 'replace')

    def start(self, timeout=START_TIMEOUT_S):
        if not os.path.isfile(BROKER_BIN) or not os.access(BROKER_BIN, os.X_OK):
            raise BrokerError(f'broker not built: {BROKER_BIN} is missing or not executable '
                              '(build it with `make build`, or set KAFSCALE_BIN)')
        assert not self.alive, 'broker already running'
        # A restart listens on the port clients already know, so they reconnect on their own.
        listen = self.kafka or '127.0.0.1:0'
        deadline = time.monotonic() + timeout
        attempt = 0
        while True:
            attempt += 1
            try:
                self._spawn_and_wait(listen, deadline)
                return self
            except BrokerError:
                # A fixed port can be briefly taken by some other socket; retry a few times.
                if listen.endswith(':0') or attempt >= 3 or time.monotonic() > deadline:
                    raise

    def _spawn_and_wait(self, listen, deadline):
        try:
            self._spawn_and_wait_once(listen, deadline)
        except BrokerError:
            if self.alive:  # never leave a half-started broker behind
                self.proc.kill()
                self.proc.wait(10)
            raise

    def _spawn_and_wait_once(self, listen, deadline):
        if self.ready_file.exists():
            self.ready_file.unlink()
        # A broker configured with Kafka's `listeners` gets no --listen (the two exclude each other).
        listen_args = [] if '--listeners' in self.args else ['--listen', listen]
        cmd = [BROKER_BIN, 'broker'] + listen_args + [
            '--data-dir',
            str(self.data_dir), '--http-listen', '127.0.0.1:0', '--ready-file',
            str(self.ready_file)
        ] + self.args
        self.starts += 1
        self.log_path = self.workdir / f'broker-{self.starts}.log'
        with open(self.log_path, 'wb') as log:
            log.write(('$ ' + ' '.join(cmd) + '\n').encode())
            log.flush()
            try:
                self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, cwd=self.workdir,
                                             env=self.env)
            except OSError as e:
                raise BrokerError(f'cannot run {BROKER_BIN}: {e}')
        while True:
            info = self._read_ready_file()
            if info is not None:
                break
            code = self.proc.poll()
            if code is not None:
                raise BrokerError(f'broker exited with {describe_exit(code)} before it was ready '
                                  f'(listen {listen}):\n{self.log_tail()}')
            if time.monotonic() > deadline:
                raise BrokerError(f'broker not ready within {START_TIMEOUT_S}s:\n{self.log_tail()}')
            time.sleep(0.02)  # bounded by the deadline above
        for key in ('kafka', 'http'):
            if not re.fullmatch(r'[\w.\-\[\]:]+:\d+', str(info.get(key, ''))):
                raise BrokerError(f'ready file has a bad {key!r} address: {info!r}')
        if self.kafka and info['kafka'] != self.kafka:
            raise BrokerError(f'restarted broker listens on {info["kafka"]}, not {self.kafka}')
        self.kafka, self.http = info['kafka'], info['http']
        self.listeners = info.get('listeners', {})  # listener name -> bound address
        self.running = True

    def _read_ready_file(self):
        try:
            return json.loads(self.ready_file.read_text())
        except (FileNotFoundError, ValueError):
            return None  # not there yet, or half written

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT_S):
        """Sends `sig` and waits for the exit; returns the exit code."""
        self.running = False
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise BrokerError(f'broker did not exit within {timeout}s of signal {sig}:\n'
                              f'{self.log_tail()}')

    def kill(self):
        """SIGKILL: no flush, no goodbye."""
        self.running = False
        if self.alive:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait(10)

    def restart(self, hard=False):
        if hard:
            self.kill()
        else:
            code = self.stop()
            if code != 0:
                raise BrokerError(f'broker exited with {code} on SIGTERM:\n{self.log_tail()}')
        return self.start()

    def http_get(self, path, timeout=HTTP_TIMEOUT_S):
        """Returns (status, body)."""
        try:
            with urllib.request.urlopen(f'http://{self.http}{path}', timeout=timeout) as r:
                return r.status, r.read().decode('utf-8', 'replace')
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode('utf-8', 'replace')

    def metrics(self):
        status, body = self.http_get('/metrics')
        if status != 200:
            raise AssertionError(f'/metrics answered {status}: {body[:500]}')
        return Metrics(body)


@pytest.fixture(scope='module')
def broker_factory(tmp_path_factory, request):
    """Makes (unstarted) brokers in fresh directories; stops them all at module end."""
    brokers = []

    def make(args=(), name='broker', env=None):
        workdir = tmp_path_factory.mktemp(f'{request.module.__name__}-{name}')
        b = Broker(workdir, args, env)
        brokers.append(b)
        return b

    yield make
    problems = []
    for b in brokers:
        was_running, was_alive = b.running, b.alive
        code = b.stop()
        if was_running and not was_alive:
            problems.append(f'broker died during the module ({describe_exit(code)}):\n'
                            f'{b.log_tail()}')
        elif was_running and code != 0:
            problems.append(f'broker exited with {describe_exit(code)} on SIGTERM:\n{b.log_tail()}')
    if problems:
        pytest.fail('\n\n'.join(problems))


@pytest.fixture(scope='module')
def module_broker(broker_factory, request):
    """The module's broker, configured by the module's BROKER_ARGS."""
    return broker_factory(getattr(request.module, 'BROKER_ARGS', []))


@pytest.fixture
def broker(module_broker):
    """The module's broker, running: started (again) if a test before left it stopped.

    After the test it must still be running unless the test stopped it.
    """
    b = module_broker
    # One failed start fails the module's remaining tests at once instead of each waiting again.
    error = b.start_error
    if not error and not b.running:
        try:
            b.start()
        except BrokerError as e:
            error = b.start_error = str(e)
    if error:  # failed outside the except block, so the report shows no exception chain
        pytest.fail(error, pytrace=False)

    reported = []

    def check():
        if b.running and not b.alive:
            reported.append(True)  # the test fails with this; teardown need not say it again
            raise AssertionError(f'broker process died ({describe_exit(b.proc.returncode)}):\n'
                                 f'{b.log_tail()}')

    kafka_helpers.liveness_checks.append(check)
    try:
        yield b
    finally:
        kafka_helpers.liveness_checks.remove(check)
    if b.running and not b.alive:
        b.running = False
        if reported:
            return
        pytest.fail(f'broker process died ({describe_exit(b.proc.returncode)}):\n{b.log_tail()}',
                    pytrace=False)


def unique_topic(hint='t'):
    base = re.sub(r'[^A-Za-z0-9._-]+', '-', hint).strip('-.')[:100] or 't'
    return f'{base}-{uuid.uuid4().hex[:8]}'


@pytest.fixture
def topic(request):
    """A topic name no other test uses."""
    return unique_topic(request.node.name)


@pytest.fixture
def topic_name(request):
    """A factory of more unique topic names for tests that need several."""
    return lambda suffix='': unique_topic(f'{request.node.name}-{suffix}')


@pytest.fixture(scope='session')
def kcat_bin():
    path = shutil.which('kcat')
    if not path:
        pytest.fail('kcat is not installed (scripts/install-deps.sh --test)', pytrace=False)
    return path


@pytest.fixture(scope='session')
def node_bin():
    path = shutil.which('node')
    if not path:
        pytest.fail('node is not installed (scripts/install-deps.sh --test)', pytrace=False)
    if not (NODE_DIR / 'node_modules' / 'kafkajs').is_dir():
        pytest.fail(f'kafkajs is not installed in {NODE_DIR} (scripts/install-deps.sh --test)',
                    pytrace=False)
    return path
