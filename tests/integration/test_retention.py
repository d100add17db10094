"""Retention and garbage collection free objects in the store.

retention.ms / retention.bytes move the log start and delete objects no live range refers
to; DeleteRecords (kafkajs) and DeleteTopics do the same; an object that was never
committed is swept after the grace period (ten checkpoint intervals).
Objects are counted as files under the data directory's object store.
"""
import time

from confluent_kafka.admin import AdminClient

from kafka_helpers import admin, create_topic, node_script, produce_ok, read, wait_for, watermarks

CHECKPOINT_MS = 200  # retention runs and unreferenced objects go on every checkpoint interval
BROKER_ARGS = ['--auto-create-topics=false', '--checkpoint-interval-ms', str(CHECKPOINT_MS)]
GC_TIMEOUT_S = 20


def object_files(broker):
    """{name: size} of the log objects on disk; a file GC deletes while we list is left out."""
    root = broker.data_dir / 'objects' / 'objects'
    out = {}
    for p in (root.rglob('*') if root.exists() else []):
        try:
            if p.is_file():
                out[p.name] = p.stat().st_size
        except FileNotFoundError:
            pass
    return out


def produce_flushes(broker, topic, flushes, per_flush=10, size=200, partition=0, check=True):
    """`flushes` separate flushes (one object each); returns the new object files (those
    retention has not deleted yet)."""
    before = set(object_files(broker))
    records = [{'value': (f'{i:06d}' + 'x' * size).encode(), 'partition': partition}
               for i in range(flushes * per_flush)]
    # One batch per flush: the whole group waits in linger, then flush() sends it.
    produce_ok(broker.kafka, topic, records, conf={'linger.ms': 1000}, flush_every=per_flush)
    new = {k: v for k, v in object_files(broker).items() if k not in before}
    if check:
        assert len(new) >= flushes, f'{len(new)} objects for {flushes} flushes'
    return new


def gone(broker, keys):
    now = object_files(broker)
    return not any(k in now for k in keys)


def test_retention_by_time_frees_every_object(broker, topic):
    create_topic(broker.kafka, topic, config={'retention.ms': '1500'})
    new = produce_flushes(broker, topic, 5)
    freed = sum(new.values())
    wait_for(lambda: gone(broker, new), GC_TIMEOUT_S, 'expired objects to be deleted')
    low, high = watermarks(broker.kafka, topic, 0)
    assert (low, high) == (50, 50)
    print(f'retention.ms: {len(new)} objects, {freed} bytes freed')
    # The log continues at the same offsets.
    assert produce_ok(broker.kafka, topic, [{'value': b'after', 'partition': 0}]) == [(0, 50)]


def test_retention_by_size_keeps_the_newest(broker, topic):
    create_topic(broker.kafka, topic, config={'retention.bytes': '6000'})
    new = produce_flushes(broker, topic, 10, per_flush=10, size=200, check=False)
    # ~2.2 KB of batches per flush: at most 6000 bytes (two or three flushes) stay.
    wait_for(lambda: watermarks(broker.kafka, topic, 0)[0] >= 70, GC_TIMEOUT_S, 'the log start to move')
    wait_for(lambda: sum(1 for k in new if k in object_files(broker)) <= 3, GC_TIMEOUT_S, 'old objects deleted')
    low, high = watermarks(broker.kafka, topic, 0)
    assert high == 100 and 70 <= low < 100
    got = read(broker.kafka, topic, {0: low})
    assert [r['offset'] for r in got] == list(range(low, 100))


def test_delete_records_frees_objects_and_survives_restart(broker, topic, node_bin):
    create_topic(broker.kafka, topic)
    new = produce_flushes(broker, topic, 6)  # offsets 0..59, ten per object
    out = node_script('admin.js', {'brokers': [broker.kafka], 'actions': [
        {'op': 'fetchTopicMetadata', 'args': {'topics': [topic]}},
        {'op': 'deleteTopicRecords', 'args': {'topic': topic, 'partitions': [{'partition': 0, 'offset': '35'}]}}]})
    assert 'ok' in out['results'][1], out
    # Durable and freed by the time DeleteRecords answered: the objects wholly below
    # offset 35 (at least 0-9, 10-19, 20-29) are gone, those above stay.
    files = object_files(broker)
    left = [k for k in new if k in files]
    assert len(new) - len(left) >= 3, (sorted(new), sorted(files))
    assert len(left) >= 3
    print(f'DeleteRecords: {len(new) - len(left)} of {len(new)} objects deleted')
    assert watermarks(broker.kafka, topic, 0) == (35, 60)
    broker.restart(hard=True)
    assert watermarks(broker.kafka, topic, 0) == (35, 60)
    assert [r['offset'] for r in read(broker.kafka, topic, {0: 35})] == list(range(35, 60))
    # Beyond the high watermark: OFFSET_OUT_OF_RANGE, nothing moves.
    out = node_script('admin.js', {'brokers': [broker.kafka], 'actions': [
        {'op': 'fetchTopicMetadata', 'args': {'topics': [topic]}},
        {'op': 'deleteTopicRecords', 'args': {'topic': topic, 'partitions': [{'partition': 0, 'offset': '99'}]}}]})
    assert 'error' in out['results'][1], out
    assert watermarks(broker.kafka, topic, 0) == (35, 60)


def test_delete_topic_frees_its_objects(broker, topic):
    create_topic(broker.kafka, topic, partitions=2)
    new = produce_flushes(broker, topic, 4)
    a = admin(broker.kafka)  # must outlive the future
    a.delete_topics([topic], operation_timeout=30)[topic].result(30)
    wait_for(lambda: gone(broker, new), GC_TIMEOUT_S, "the deleted topic's objects to be deleted")


def test_orphan_object_is_swept(broker):
    root = broker.data_dir / 'objects' / 'objects' / '0'
    root.mkdir(parents=True, exist_ok=True)
    # What a flush that crashed before its commit leaves: an object of an older epoch.
    orphan = root / '0000000000000001-00000000000fffff.kso'
    orphan.write_bytes(b'never committed' * 100)
    unrelated = root / 'notes.txt'
    unrelated.write_bytes(b'not ours')
    start = time.monotonic()
    wait_for(lambda: not orphan.exists(), GC_TIMEOUT_S, 'the orphan to be swept')
    print(f'orphan swept after {time.monotonic() - start:.1f}s')
    assert unrelated.exists()
    unrelated.unlink()
