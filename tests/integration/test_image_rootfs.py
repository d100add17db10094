"""The runtime image's root file system, built for real and run as the image runs (no container runtime here).

A minimal Debian bookworm root (`debootstrap --variant=minbase`) plus the packages in
deploy/image/runtime-packages.txt (the Dockerfile's runtime list), plus the broker binary and the image's
user (uid 10001, as in the Dockerfile). The broker runs in it with `chroot --userspec 10001:10001`, the root
mounted read-only and only the pod's volumes writable (/var/lib/kafscale, /run/kafscale), against the
loopback etcd and, over TLS, the loopback Swift: a TLS proxy with a certificate of a private CA that the
test adds to the root's CA bundle with update-ca-certificates. Without that CA the broker must refuse the
store (so the TLS connection really verifies); with it, it starts, answers /readyz, takes a record and
exits 0 on SIGTERM. A missing shared library, CA bundle or writable path fails the test.

The debootstrap root is cached under KAFSCALE_ROOTFS_CACHE (default /var/tmp/kafscale-rootfs), keyed by the
package list: the first run downloads from Debian's archive (a few minutes), later runs copy it.
"""
import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from backends import services, unique_prefix  # noqa: F401 (fixture)
from conftest import BROKER_BIN, REPO_ROOT, describe_exit
from kafka_helpers import produce_ok, read, wait_for

PACKAGES_FILE = REPO_ROOT / 'deploy' / 'image' / 'runtime-packages.txt'
DOCKERFILE = REPO_ROOT / 'deploy' / 'image' / 'Dockerfile'
SUITE = 'bookworm'
MIRROR = os.environ.get('KAFSCALE_DEBIAN_MIRROR', 'http://deb.debian.org/debian')
CACHE = Path(os.environ.get('KAFSCALE_ROOTFS_CACHE', '/var/tmp/kafscale-rootfs'))
UID = 10001
DEBOOTSTRAP_TIMEOUT_S = 1200


def runtime_packages():
    return [line.strip() for line in PACKAGES_FILE.read_text().splitlines()
            if line.strip() and not line.startswith('#')]


def cached_root():
    """The debootstrap root for the package list, built once."""
    if os.geteuid() != 0:
        pytest.fail('the image root file system test needs root (debootstrap, chroot, mount)', pytrace=False)
    debootstrap = shutil.which('debootstrap')
    if not debootstrap:
        pytest.fail('debootstrap is not installed (scripts/install-deps.sh --test)', pytrace=False)
    pkgs = runtime_packages()
    key = hashlib.sha256(f'{SUITE} {MIRROR} {" ".join(pkgs)}'.encode()).hexdigest()[:16]
    root = CACHE / f'{SUITE}-{key}'
    if (root / '.complete').exists():
        return root
    if root.exists():
        shutil.rmtree(root)
    CACHE.mkdir(parents=True, exist_ok=True)
    # In a mount namespace of its own: the /proc it mounts in the target never leaks into ours.
    r = subprocess.run(['unshare', '--mount', '--propagation', 'private', debootstrap, '--variant=minbase',
                        f'--include={",".join(pkgs)}', SUITE, str(root),
                        MIRROR], capture_output=True, text=True, timeout=DEBOOTSTRAP_TIMEOUT_S)
    if r.returncode != 0:
        pytest.fail(f'debootstrap failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}',
                    pytrace=False)
    (root / '.complete').write_text(' '.join(pkgs) + '\n')
    return root


def make_ca(tmp):
    """A private CA and a server certificate for 127.0.0.1 signed by it (openssl)."""
    def openssl(*args):
        subprocess.run(['openssl', *args], check=True, capture_output=True, cwd=tmp, timeout=60)
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=kafscale test CA',
            '-keyout', 'ca.key', '-out', 'ca.crt', '-addext', 'basicConstraints=critical,CA:TRUE',
            '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server.key',
            '-out', 'server.csr')
    (tmp / 'san.ext').write_text('subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n')
    openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
            '-days', '2', '-extfile', 'san.ext', '-out', 'server.crt')
    return tmp / 'ca.crt', tmp / 'server.crt', tmp / 'server.key'


class TlsProxy:
    """TLS on a loopback port, forwarded as plain TCP to `target` (host, port)."""

    def __init__(self, cert, key, target):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.target = target
        self.sock = socket.create_server(('127.0.0.1', 0))
        self.port = self.sock.getsockname()[1]
        self.handshakes = 0
        self.failed_handshakes = 0
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            tls = self.ctx.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            self.failed_handshakes += 1
            conn.close()
            return
        self.handshakes += 1
        try:
            upstream = socket.create_connection(self.target)
        except OSError:
            tls.close()
            return

        def pump(src, dst):
            try:
                while True:
                    data = src.recv(65536)
                    if not data:
                        break
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pump, args=(upstream, tls), daemon=True).start()
        pump(tls, upstream)

    def close(self):
        self.closed = True
        self.sock.close()


def add_image_user(root):
    """The Dockerfile's groupadd/useradd, written directly (new files: the cached root is hard-linked)."""
    for name, line in (('passwd', f'kafscale:x:{UID}:{UID}::/nonexistent:/usr/sbin/nologin\n'),
                       ('group', f'kafscale:x:{UID}:\n')):
        path = root / 'etc' / name
        content = path.read_text() + line
        path.unlink()
        path.write_text(content)


def chrooted(root, volumes, argv):
    """argv as the image's user in `root`, read-only but for `volumes` ({path in root: host dir})."""
    mounts = [f'mount --bind {root} {root}', f'mount -o remount,bind,ro {root}',
              f'mount -t proc proc {root}/proc', f'mount --rbind /dev {root}/dev']
    for inside, host in volumes.items():
        mounts.append(f'mount --bind {host} {root}{inside}')
    script = ' && '.join(mounts) + f' && exec chroot --userspec={UID}:{UID} {root} "$@"'
    return ['unshare', '--mount', '--propagation', 'private', 'sh', '-ec', script, 'sh', *argv]


def test_broker_runs_in_the_runtime_root_as_its_user_read_only(services, tmp_path, topic):  # noqa: F811
    dockerfile = DOCKERFILE.read_text()
    assert 'runtime-packages.txt' in dockerfile and f'USER {UID}:{UID}' in dockerfile
    assert 'FROM debian:bookworm-slim' in dockerfile and 'FROM debian:bookworm AS build' in dockerfile
    if not os.access(BROKER_BIN, os.X_OK):
        pytest.fail(f'broker not built: {BROKER_BIN}', pytrace=False)
    started = time.monotonic()
    cache = cached_root()
    root_ready_s = time.monotonic() - started
    root = tmp_path / 'root'
    subprocess.run(['cp', '-al', str(cache), str(root)], check=True, timeout=300)
    (root / '.complete').unlink()
    add_image_user(root)
    (root / 'usr/local/bin').mkdir(parents=True, exist_ok=True)
    shutil.copy2(BROKER_BIN, root / 'usr/local/bin/kafscale')  # a new file, not a link into the cache
    for d in ('var/lib/kafscale', 'run/kafscale'):
        # Real directories: a mount through a symlink (bookworm's /var/run -> /run) would leave the root.
        assert not any((root / p).is_symlink() for p in (d.split('/')[0], d.rsplit('/', 1)[0])), d
        (root / d).mkdir(parents=True, exist_ok=True)
    data, run_dir = tmp_path / 'scratch', tmp_path / 'run'
    for d in (data, run_dir):
        d.mkdir()
        os.chown(d, UID, UID)
    volumes = {'/var/lib/kafscale': data, '/run/kafscale': run_dir}

    ca, cert, key = make_ca(tmp_path)
    s3 = urllib.parse.urlparse(services.s3_endpoint)
    proxy = TlsProxy(cert, key, (s3.hostname, s3.port))
    prefix = unique_prefix('rootfs')
    endpoint = urllib.parse.quote(f'https://127.0.0.1:{proxy.port}', safe='')
    store = f's3://{services.bucket}/{prefix}?endpoint={endpoint}&region={services.region}&path_style=true'
    env = {'PATH': '/usr/sbin:/usr/bin:/sbin:/bin', **services.credentials()}

    def broker(*extra):
        return chrooted(root, volumes, [
            '/usr/local/bin/kafscale', 'broker', '--listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0',
            '--ready-file', '/run/kafscale/ready.json', '--data-dir', '/var/lib/kafscale',
            '--object-store', store, '--metadata', services.metadata_url(prefix), *extra])

    try:
        # Our CA is not trusted yet: the store's certificate must be refused.
        r = subprocess.run(broker('--startup-timeout-ms', '0'), env=env, capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 1, f'expected exit 1 (store refused), not {r.returncode}:\n{r.stdout}{r.stderr}'
        assert 'certificate' in (r.stdout + r.stderr).lower(), r.stdout + r.stderr
        assert proxy.handshakes == 0 and proxy.failed_handshakes > 0

        # The private CA added as the image would add it (ca-certificates' update-ca-certificates).
        shutil.copy(ca, root / 'usr/local/share/ca-certificates/kafscale-test-ca.crt')
        r = subprocess.run(['chroot', str(root), 'update-ca-certificates'], capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr

        log = open(tmp_path / 'broker.log', 'wb')
        proc = subprocess.Popen(broker(), env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        ready_file = run_dir / 'ready.json'

        def tail():
            return (tmp_path / 'broker.log').read_bytes()[-4000:].decode('utf-8', 'replace')

        try:
            wait_for(lambda: ready_file.exists() or proc.poll() is not None, 60, 'the chrooted broker ready')
            assert proc.poll() is None, f'broker exited {describe_exit(proc.returncode)}:\n{tail()}'
            info = json.loads(ready_file.read_text())
            with urllib.request.urlopen(f'http://{info["http"]}/readyz', timeout=5) as resp:
                assert resp.status == 200
            produce_ok(info['kafka'], topic, [{'value': b'from the image root', 'partition': 0}])
            got = read(info['kafka'], topic, {0: 0})
            assert [r['value'] for r in got] == [b'from the image root']
            # unshare and sh exec chroot, which execs the broker: this is the broker, as the image's user.
            status = Path(f'/proc/{proc.pid}/status').read_text()
            assert 'kafscale' in Path(f'/proc/{proc.pid}/cmdline').read_text()
            uids = next(line.split()[1:] for line in status.splitlines() if line.startswith('Uid:'))
            assert uids == [str(UID)] * 4, status
            assert proxy.handshakes > 0
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait(10)
            log.close()
        assert code == 0, f'broker exited {describe_exit(code)} on SIGTERM:\n{tail()}'
        # Nothing but the volumes was written: the root stayed read-only.
        assert not (root / 'tmp').exists() or not any((root / 'tmp').iterdir())
    finally:
        proxy.close()
        # The copy of the broker binary in it is large; the rest are links into the cache.
        shutil.rmtree(root, ignore_errors=True)
    print(f'image root: {len(runtime_packages())} runtime packages, root ready in {root_ready_s:.1f} s '
          f'({"cached" if root_ready_s < 30 else "debootstrap"}); TLS handshakes {proxy.handshakes}, '
          f'refused before the CA was added {proxy.failed_handshakes}')
