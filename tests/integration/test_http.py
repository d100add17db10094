"""The HTTP side: health endpoints and the Prometheus counters the other tests rely on."""
from kafka_helpers import create_topic, produce_ok, read_all, wait_for

BROKER_ARGS = ['--flush-interval-ms', '50']

REQUIRED = [
    'kafscale_objstore_requests_total', 'kafscale_objstore_bytes_total',
    'kafscale_metastore_txns_total', 'kafscale_metastore_keys_written_total',
    'kafscale_produce_requests_total', 'kafscale_produce_bytes_total',
    'kafscale_fetch_requests_total', 'kafscale_fetch_bytes_total', 'kafscale_flushes_total'
]


def test_health_endpoints(broker):
    for path in ('/livez', '/readyz'):
        status, _ = broker.http_get(path)
        assert status == 200, path
    status, _ = broker.http_get('/no-such-page')
    assert status == 404


def test_metrics_exported(broker):
    m = broker.metrics()
    missing = [name for name in REQUIRED if not m.has(name)]
    assert not missing, f'missing metrics: {missing}'


def test_counters_move(broker, topic):
    create_topic(broker.kafka, topic, partitions=1)
    before = broker.metrics()
    payload = b'p' * 1000
    produce_ok(broker.kafka, topic, [{'value': payload, 'partition': 0}] * 50)
    assert len(read_all(broker.kafka, topic, 1)) == 50

    def grew(name, at_least=1, **labels):
        return broker.metrics().get(name, **labels) - before.get(name, **labels) >= at_least

    # Produce and fetch are counted when they are served; the flush may trail a little.
    assert grew('kafscale_produce_requests_total')
    assert grew('kafscale_produce_bytes_total', 50 * 1000)
    assert grew('kafscale_fetch_requests_total')
    assert grew('kafscale_fetch_bytes_total', 50 * 1000)
    wait_for(lambda: grew('kafscale_flushes_total'), 10, 'a flush to be counted')
    wait_for(lambda: grew('kafscale_objstore_requests_total', op='put'), 10, 'an object PUT')
    wait_for(lambda: grew('kafscale_objstore_bytes_total', 50 * 1000, op='put'), 10, 'PUT bytes')
    wait_for(lambda: grew('kafscale_metastore_txns_total'), 10, 'a metadata transaction')
    wait_for(lambda: grew('kafscale_metastore_keys_written_total'), 10, 'a metadata key write')
