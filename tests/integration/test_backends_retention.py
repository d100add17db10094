"""Retention and garbage collection free objects in the S3 bucket (Swift's S3 API) with etcd.

The same behaviour as test_retention.py, but counted where it matters in production: the
objects and bytes under the broker's prefix of the bucket, listed through the S3 API itself
(a small SigV4 client below, so no boto is needed). retention.ms, DeleteRecords and
DeleteTopics must delete the objects no live range refers to; an object that was never
committed is swept after the grace period. Skips without tests/with-services.sh (see backends.py).
"""
import datetime
import hashlib
import hmac
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import pytest

from backends import backend_broker_factory, services  # noqa: F401 (fixtures)
from confluent_kafka.admin import ConfigResource
from kafka_helpers import (admin, create_topic, node_script, produce_ok, read, wait_for,
                           watermarks)

CHECKPOINT_MS = 200  # retention and the orphan sweep run on the checkpoint interval
BROKER_ARGS = ['--auto-create-topics=false', '--checkpoint-interval-ms', str(CHECKPOINT_MS)]
GC_TIMEOUT_S = 30  # a few checkpoint intervals plus S3 deletes on a loaded machine
S3_TIMEOUT_S = 15
LIST_PAGES_MAX = 200  # 1000 keys a page: far more than a test writes


class S3:
    """Just enough of S3 for the tests: list a prefix, put an object. Path-style, SigV4."""

    def __init__(self, svc):
        self.endpoint = svc.s3_endpoint.rstrip('/')
        self.host = urllib.parse.urlsplit(self.endpoint).netloc
        self.bucket = svc.bucket
        self.region = svc.region
        self.access_key = svc.access_key
        self.secret = svc.secret

    def _request(self, method, key='', query=None, body=b''):
        now = datetime.datetime.now(datetime.timezone.utc)
        amz_date = now.strftime('%Y%m%dT%H%M%SZ')
        day = now.strftime('%Y%m%d')
        path = '/' + urllib.parse.quote(self.bucket) + ('/' + urllib.parse.quote(key, safe='/-_.~')
                                                        if key else '')
        q = sorted((query or {}).items())
        canonical_query = '&'.join(f'{urllib.parse.quote(k, safe="-_.~")}='
                                   f'{urllib.parse.quote(str(v), safe="-_.~")}' for k, v in q)
        payload_hash = hashlib.sha256(body).hexdigest()
        headers = {'host': self.host, 'x-amz-content-sha256': payload_hash, 'x-amz-date': amz_date}
        signed = ';'.join(sorted(headers))
        canonical = '\n'.join([method, path, canonical_query,
                               ''.join(f'{k}:{headers[k]}\n' for k in sorted(headers)), signed,
                               payload_hash])
        scope = f'{day}/{self.region}/s3/aws4_request'
        to_sign = '\n'.join(['AWS4-HMAC-SHA256', amz_date, scope,
                             hashlib.sha256(canonical.encode()).hexdigest()])
        k = ('AWS4' + self.secret).encode()
        for part in (day, self.region, 's3', 'aws4_request'):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        signature = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
        headers['authorization'] = (f'AWS4-HMAC-SHA256 Credential={self.access_key}/{scope}, '
                                    f'SignedHeaders={signed}, Signature={signature}')
        url = self.endpoint + path + (f'?{canonical_query}' if canonical_query else '')
        req = urllib.request.Request(url, data=body if method == 'PUT' else None, method=method,
                                     headers={k: v for k, v in headers.items() if k != 'host'})
        try:
            with urllib.request.urlopen(req, timeout=S3_TIMEOUT_S) as r:
                return r.read()
        except urllib.error.HTTPError as e:
            raise AssertionError(f'S3 {method} {url}: {e.code} {e.read()[:500]!r}')

    def list(self, prefix):
        """{key: size} of every object under `prefix` (ListObjects v1, paged by marker)."""
        out = {}
        marker = ''
        for _ in range(LIST_PAGES_MAX):
            query = {'prefix': prefix, 'max-keys': '1000'}
            if marker:
                query['marker'] = marker
            root = ET.fromstring(self._request('GET', query=query))
            ns = root.tag[:root.tag.index('}') + 1] if root.tag.startswith('{') else ''
            keys = root.findall(f'{ns}Contents')
            for c in keys:
                out[c.find(f'{ns}Key').text] = int(c.find(f'{ns}Size').text)
            if root.findtext(f'{ns}IsTruncated', 'false').lower() != 'true' or not keys:
                return out
            marker = keys[-1].find(f'{ns}Key').text
        raise AssertionError(f'more than {LIST_PAGES_MAX} pages under {prefix}')

    def put(self, key, body):
        self._request('PUT', key, body=body)


@pytest.fixture(scope='module')
def s3(services):  # noqa: F811
    return S3(services)


@pytest.fixture(scope='module')
def module_backend_broker(services, backend_broker_factory):  # noqa: F811
    return backend_broker_factory(services, BROKER_ARGS, name='retention')


@pytest.fixture
def broker(module_backend_broker):
    b = module_backend_broker
    if not b.running:
        b.start()
    yield b
    assert b.alive, f'broker died:\n{b.log_tail()}'


def log_objects(s3, broker):
    """The broker's log objects in the bucket: {key: size}."""
    return {k: v for k, v in s3.list(f'{broker.prefix}/objects/').items() if k.endswith('.kso')}


def produce_flushes(s3, broker, topic, flushes, per_flush=10, size=200, partition=0):
    """`flushes` separate flushes (one object each); returns the new objects {key: size}."""
    before = set(log_objects(s3, broker))
    records = [{'value': (f'{i:06d}' + 'x' * size).encode(), 'partition': partition}
               for i in range(flushes * per_flush)]
    produce_ok(broker.kafka, topic, records, conf={'linger.ms': 1000}, flush_every=per_flush)
    new = {k: v for k, v in log_objects(s3, broker).items() if k not in before}
    assert len(new) >= flushes, f'{len(new)} objects in the bucket for {flushes} flushes'
    assert all(v > 0 for v in new.values()), new
    return new


def remaining(s3, broker, keys):
    now = log_objects(s3, broker)
    return {k: now[k] for k in keys if k in now}


def test_retention_ms_frees_every_object_in_the_bucket(s3, broker, topic):
    # Retention is shortened only once every flush is in the bucket: on a loaded
    # machine producing takes longer than a short retention.ms.
    create_topic(broker.kafka, topic, config={'retention.ms': '600000'})
    new = produce_flushes(s3, broker, topic, 5)
    res = ConfigResource(ConfigResource.Type.TOPIC, topic, set_config={'retention.ms': '1500'})
    a = admin(broker.kafka)  # kept: the futures fail if the client is destroyed first
    a.alter_configs([res], request_timeout=30)[res].result(30)
    wait_for(lambda: not remaining(s3, broker, new), GC_TIMEOUT_S,
             'expired objects to be deleted from the bucket')
    assert watermarks(broker.kafka, topic, 0) == (50, 50)
    print(f'retention.ms: {len(new)} objects, {sum(new.values())} bytes freed in the bucket')
    # The log goes on at the same offset, in a new object.
    assert produce_ok(broker.kafka, topic, [{'value': b'after', 'partition': 0}]) == [(0, 50)]


def test_delete_records_frees_the_objects_below_the_new_start(s3, broker, topic, node_bin):
    create_topic(broker.kafka, topic)
    new = produce_flushes(s3, broker, topic, 6)  # offsets 0..59, ten an object
    # Neither Python client has DeleteRecords: kafkajs sends it.
    out = node_script('admin.js', {'brokers': [broker.kafka], 'actions': [
        {'op': 'fetchTopicMetadata', 'args': {'topics': [topic]}},
        {'op': 'deleteTopicRecords',
         'args': {'topic': topic, 'partitions': [{'partition': 0, 'offset': '35'}]}}]})
    assert 'ok' in out['results'][1], out
    assert watermarks(broker.kafka, topic, 0) == (35, 60)
    # The objects wholly below 35 (0-9, 10-19, 20-29) go; those with live records stay.
    wait_for(lambda: len(remaining(s3, broker, new)) <= len(new) - 3, GC_TIMEOUT_S,
             'objects below the log start to be deleted from the bucket')
    left = remaining(s3, broker, new)
    assert len(left) >= 3, (sorted(new), sorted(left))
    freed = sum(v for k, v in new.items() if k not in left)
    print(f'DeleteRecords: {len(new) - len(left)} of {len(new)} objects, {freed} bytes freed')
    assert [r['offset'] for r in read(broker.kafka, topic, {0: 35})] == list(range(35, 60))


def test_delete_topics_frees_its_objects_only(s3, broker, topic_name):
    doomed, kept = topic_name('doomed'), topic_name('kept')
    create_topic(broker.kafka, doomed, partitions=2)
    create_topic(broker.kafka, kept)
    mine = produce_flushes(s3, broker, doomed, 4)
    other = produce_flushes(s3, broker, kept, 2)
    a = admin(broker.kafka)  # must outlive the future
    a.delete_topics([doomed], operation_timeout=30)[doomed].result(30)
    wait_for(lambda: not remaining(s3, broker, mine), GC_TIMEOUT_S,
             "the deleted topic's objects to be deleted from the bucket")
    assert remaining(s3, broker, other) == other, 'objects of a live topic were deleted'
    assert [r['offset'] for r in read(broker.kafka, kept, {0: 0})] == list(range(20))


def test_orphan_object_is_swept_from_the_bucket(s3, broker, topic):
    # Learn the broker's node directory from an object it wrote itself.
    create_topic(broker.kafka, topic)
    produce_flushes(s3, broker, topic, 1)
    node_dirs = {k.split('/')[-2] for k in log_objects(s3, broker)}
    assert len(node_dirs) == 1, node_dirs
    node = node_dirs.pop()
    # What a flush that crashed before its commit leaves: an object of an older epoch.
    orphan = f'{broker.prefix}/objects/{node}/0000000000000001-00000000000fffff.kso'
    unrelated = f'{broker.prefix}/objects/{node}/notes.txt'
    s3.put(orphan, b'never committed' * 100)
    s3.put(unrelated, b'not ours')
    assert orphan in s3.list(f'{broker.prefix}/objects/')
    start = time.monotonic()
    wait_for(lambda: orphan not in s3.list(f'{broker.prefix}/objects/'), GC_TIMEOUT_S,
             'the orphan to be swept from the bucket')
    print(f'orphan swept after {time.monotonic() - start:.1f}s')
    assert unrelated in s3.list(f'{broker.prefix}/objects/'), 'a key that is not ours was deleted'
    # The committed data is untouched.
    assert [r['offset'] for r in read(broker.kafka, topic, {0: 0})] == list(range(10))
