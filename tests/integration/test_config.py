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
