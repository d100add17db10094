"""Start-up checks against the real backends: wrong settings give a clear message and exit code.

Exit code 2: a setting is malformed (retrying cannot help). Exit code 1: a dependency is not
usable within --startup-timeout (unreachable, wrong credentials, missing bucket).
"""
import socket
import uuid

from backends import run_broker_expecting_exit, services  # noqa: F401 (fixture)
from conftest import timing_bound

SHORT = ['--startup-timeout', '1500ms']


def closed_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_failing(tmp_path, args, env):
    code, out, seconds = run_broker_expecting_exit(tmp_path, args, env)
    return code, out, seconds


def test_wrong_secret_exits_1_naming_the_problem(services, tmp_path):  # noqa: F811
    prefix = f'it-start-{uuid.uuid4().hex[:8]}'
    code, out, seconds = start_failing(
        tmp_path, ['--object-store', services.object_store_url(prefix), '--metadata',
                   services.metadata_url(prefix)] + SHORT,
        services.credentials(secret='not-the-secret'))
    assert code == 1, out
    assert 'object-store' in out and services.bucket in out, out
    assert 'the secret access key is wrong' in out, out
    assert 'credentials from environment' in out, out
    assert 'startup-timeout-ms = 1500' in out, out
    assert seconds < timing_bound(20), seconds


def test_missing_bucket_exits_1_naming_the_bucket(services, tmp_path):  # noqa: F811
    bucket = f'no-such-bucket-{uuid.uuid4().hex[:8]}'
    code, out, _ = start_failing(
        tmp_path, ['--object-store', services.object_store_url('p', bucket=bucket), '--metadata',
                   services.metadata_url('p')] + SHORT, services.credentials())
    assert code == 1, out
    assert f"bucket '{bucket}' does not exist" in out, out
    assert 'object-store' in out, out


def test_unreachable_etcd_exits_1_after_retrying(services, tmp_path):  # noqa: F811
    prefix = f'it-start-{uuid.uuid4().hex[:8]}'
    code, out, seconds = start_failing(
        tmp_path, ['--object-store', services.object_store_url(prefix), '--metadata',
                   f'etcd://127.0.0.1:{closed_port()}/x', '--startup-timeout', '2s'],
        services.credentials())
    assert code == 1, out
    assert "metadata 'etcd://127.0.0.1:" in out, out
    assert 'attempts within startup-timeout-ms = 2000' in out, out
    assert 'is not ready (attempt 1)' in out, out  # the first failure is logged at once
    assert seconds >= 2, seconds


def test_malformed_settings_exit_2_at_once(services, tmp_path):  # noqa: F811
    url = services.object_store_url('p').replace('region=us-east-1', 'region=bad%20region')
    code, out, seconds = start_failing(
        tmp_path, ['--object-store', url, '--metadata', services.metadata_url('p'),
                   '--startup-timeout', '60s'], services.credentials())
    assert code == 2, out
    assert 'object-store' in out and 'region' in out, out
    assert seconds < timing_bound(10), seconds  # not retried for the minute

    # Half a key pair is a configuration error too.
    code, out, _ = start_failing(
        tmp_path, ['--object-store', services.object_store_url('p'), '--metadata',
                   services.metadata_url('p'), '--startup-timeout', '60s'],
        {'AWS_ACCESS_KEY_ID': services.access_key})
    assert code == 2, out
    assert 'AWS_SECRET_ACCESS_KEY' in out, out

    code, out, _ = start_failing(tmp_path, ['--startup-timeout', 'soon'], {})
    assert code == 2, out
    assert 'startup-timeout-ms' in out, out
