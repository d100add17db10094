"""Broker settings given as KAFSCALE_<SETTING> environment variables instead of flags."""
from kafka_helpers import list_topics, produce_ok, read_all


def test_settings_from_environment(broker_factory, topic):
    b = broker_factory(name='env', env={
        'KAFSCALE_DEFAULT_PARTITIONS': '5',
        'KAFSCALE_AUTO_CREATE_TOPICS': 'true',
        'KAFSCALE_FLUSH_INTERVAL_MS': '20',
    }).start()
    acked = produce_ok(b.kafka, topic, [{'value': b'x', 'partition': 4}])
    assert acked == [(4, 0)]
    assert list_topics(b.kafka).get(topic) == 5
    assert [r['value'] for r in read_all(b.kafka, topic, 5)] == [b'x']
    assert b.stop() == 0


def test_flag_overrides_environment(broker_factory, topic):
    b = broker_factory(['--default-partitions', '2'], name='flag-wins',
                       env={'KAFSCALE_DEFAULT_PARTITIONS': '7'}).start()
    produce_ok(b.kafka, topic, [{'value': b'x'}])
    assert list_topics(b.kafka).get(topic) == 2
    assert b.stop() == 0


def test_group_settings_checked_at_startup(tmp_path):
    """Contradictory group settings stop the broker with exit code 2 and name the settings."""
    import subprocess
    from conftest import BROKER_BIN
    cmd = [BROKER_BIN, 'broker', '--listen', '127.0.0.1:0', '--data-dir', str(tmp_path / 'data'),
           '--group.min.session.timeout.ms', '10000', '--group-max-session-timeout-ms', '9000']
    proc = subprocess.run(cmd, capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
                          env={'KAFSCALE_OFFSETS_RETENTION_MINUTES': '5'})
    out = (proc.stdout + proc.stderr).decode(errors='replace')
    assert proc.returncode == 2, out
    assert 'group-min-session-timeout-ms (flag --group-min-session-timeout-ms) (10000) must not exceed ' \
           'group-max-session-timeout-ms (flag --group-max-session-timeout-ms) (9000)' in out
    proc = subprocess.run(cmd[:6] + ['--offsets-retention-minutes', '0'], capture_output=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    out = (proc.stdout + proc.stderr).decode(errors='replace')
    assert proc.returncode == 2 and 'invalid offsets-retention-minutes' in out, out
