"""Dynamic BROKER configs at Kafka's two levels: the cluster-wide default (resource name "") and one broker (its id).

Kafka's answers: a BROKER name that is not an integer or not this broker's id is INVALID_REQUEST; a config that
cannot change at run time is INVALID_REQUEST "Cannot update these configs dynamically: Set(...)"; a bad value is
INVALID_REQUEST naming the config. A cluster-wide log config (log.retention.ms...) becomes the default of every
topic without its own value: DescribeConfigs shows it with source DYNAMIC_DEFAULT_BROKER_CONFIG (3) and the
broker config as synonym. KafScale takes log configs only cluster-wide (partitions move between brokers).

Hand-built requests: confluent-kafka-python 1.7 has no IncrementalAlterConfigs.
"""
from kafka_helpers import create_topic
from test_group_configs import describe as describe_resource, incremental_alter

BROKER_ARGS = ['--auto-create-topics=false']

TOPIC, BROKER = 2, 4
INVALID_REQUEST = 42
SOURCE_TOPIC, SOURCE_DYNAMIC_BROKER, SOURCE_DYNAMIC_DEFAULT, SOURCE_DEFAULT = 1, 2, 3, 5
SET, DELETE = 0, 1


def describe(bootstrap, rtype, name):
    """DescribeConfigs v4 with synonyms -> (error, message, {config: (value, source, [(synonym, value, source)])})"""
    return describe_resource(bootstrap, name, rtype=rtype)


def test_broker_names_and_refusals(broker):
    boot = broker.bootstrap
    assert describe(boot, BROKER, 'x')[:2] == (INVALID_REQUEST, 'Node id must be an integer, but it is: x')
    error, message, _ = describe(boot, BROKER, '77')
    assert error == INVALID_REQUEST and message.startswith('Unexpected broker id'), message
    assert incremental_alter(boot, [(BROKER, '0', [('broker.id', SET, '5')])]) == [
        (INVALID_REQUEST, 'Cannot update these configs dynamically: Set(broker.id)')]
    [(error, message)] = incremental_alter(boot, [(BROKER, '0', [('log.retention.ms', SET, '1000')])])
    assert error == INVALID_REQUEST and 'cluster-wide' in message, message
    assert incremental_alter(boot, [(BROKER, '', [('log.retention.ms', SET, 'soon')])]) == [
        (INVALID_REQUEST, 'Invalid value soon for configuration log.retention.ms: Not a number of type LONG')]
    [(error, message)] = incremental_alter(boot, [(BROKER, '', [('num.io.threads', SET, '16')])])
    assert error == INVALID_REQUEST and 'num.io.threads' in message, message


def test_cluster_default_retention_reaches_topics_and_survives_a_restart(broker, topic):
    boot = broker.bootstrap
    create_topic(boot, topic, partitions=1)
    own = f'{topic}-own'
    create_topic(boot, own, partitions=1, config={'retention.ms': '86400000'})
    try:
        assert incremental_alter(boot, [(BROKER, '', [('log.retention.hours', SET, '2')])]) == [(0, None)]
        _, _, cluster = describe(boot, BROKER, '')
        assert cluster == {'log.retention.hours': ('2', SOURCE_DYNAMIC_DEFAULT,
                                                   [('log.retention.hours', '2', SOURCE_DYNAMIC_DEFAULT)])}
        value, source, syns = describe(boot, TOPIC, topic)[2]['retention.ms']
        assert (value, source) == ('7200000', SOURCE_DYNAMIC_DEFAULT)
        assert syns[0] == ('log.retention.hours', '2', SOURCE_DYNAMIC_DEFAULT)
        # A topic's own value stays first.
        assert describe(boot, TOPIC, own)[2]['retention.ms'][:2] == ('86400000', SOURCE_TOPIC)
        # The broker resource shows it too.
        assert describe(boot, BROKER, '0')[2]['log.retention.hours'][:2] == ('2', SOURCE_DYNAMIC_DEFAULT)
        # Per-broker beats cluster-wide for producer.id.expiration.ms.
        assert incremental_alter(boot, [(BROKER, '', [('producer.id.expiration.ms', SET, '600000')])]) == [(0, None)]
        assert incremental_alter(boot, [(BROKER, '0', [('producer.id.expiration.ms', SET, '700000')])]) == [(0, None)]
        value, source, syns = describe(boot, BROKER, '0')[2]['producer.id.expiration.ms']
        assert (value, source) == ('700000', SOURCE_DYNAMIC_BROKER)
        assert [s[2] for s in syns][:2] == [SOURCE_DYNAMIC_BROKER, SOURCE_DYNAMIC_DEFAULT]

        broker.restart()
        assert describe(boot, TOPIC, topic)[2]['retention.ms'][:2] == ('7200000', SOURCE_DYNAMIC_DEFAULT)
        assert describe(boot, BROKER, '0')[2]['producer.id.expiration.ms'][:2] == ('700000', SOURCE_DYNAMIC_BROKER)

        assert incremental_alter(boot, [(BROKER, '', [('log.retention.hours', DELETE, None),
                                                      ('producer.id.expiration.ms', DELETE, None)])]) == [(0, None)]
        assert incremental_alter(boot, [(BROKER, '0', [('producer.id.expiration.ms', DELETE, None)])]) == [(0, None)]
        assert describe(boot, TOPIC, topic)[2]['retention.ms'][:2] == ('604800000', SOURCE_DEFAULT)
        assert describe(boot, BROKER, '')[2] == {}
    finally:
        incremental_alter(boot, [(BROKER, '', [('log.retention.hours', DELETE, None),
                                               ('producer.id.expiration.ms', DELETE, None)])])
        incremental_alter(boot, [(BROKER, '0', [('producer.id.expiration.ms', DELETE, None)])])
