"""Malformed and unsupported requests on raw sockets: the broker must stay up and keep serving.

Frames are built by hand from the Kafka protocol guide's layouts:
  frame          = int32 size, then `size` bytes
  request header = int16 api_key, int16 api_version, int32 correlation_id, string client_id
                   (+ an empty tagged-field section, one 0x00 byte, in header v2)
"""
import json
import random
import socket
import struct
import time
import zlib

import pytest

from kafka_helpers import create_topic, kcat, watermarks

MAX_REQUEST_BYTES = 1 << 20
BROKER_ARGS = ['--max-request-bytes', str(MAX_REQUEST_BYTES), '--auto-create-topics=true']

IO_TIMEOUT_S = 10  # how long the broker may take to answer or hang up
API_PRODUCE, API_METADATA, API_API_VERSIONS = 0, 3, 18
UNSUPPORTED_VERSION = 35


def kstring(s):
    b = s.encode()
    return struct.pack('>h', len(b)) + b


def kbytes(b):
    return struct.pack('>i', -1) if b is None else struct.pack('>i', len(b)) + b


def header(api_key, version, corr, client_id='kafscale-it-raw', flexible=False):
    h = struct.pack('>hhi', api_key, version, corr) + kstring(client_id)
    return h + (b'\x00' if flexible else b'')


def frame(payload):
    return struct.pack('>i', len(payload)) + payload


def connect(broker):
    host, port = broker.kafka.rsplit(':', 1)
    return socket.create_connection((host, int(port)), timeout=IO_TIMEOUT_S)


def recv_exact(sock, n, deadline):
    """n bytes, or None if the peer closed first."""
    buf = b''
    while len(buf) < n:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(n - len(buf))
        except ConnectionResetError:
            return None
        except socket.timeout:
            raise AssertionError(f'no answer and no close within {IO_TIMEOUT_S}s')
        if not chunk:
            return None
        buf += chunk
    return buf


def read_frame(sock):
    """The next response frame's payload, or None if the broker closed the connection."""
    deadline = time.monotonic() + IO_TIMEOUT_S
    size = recv_exact(sock, 4, deadline)
    if size is None:
        return None
    (n,) = struct.unpack('>i', size)
    assert 4 <= n <= 64 << 20, f'bad response size {n}'
    return recv_exact(sock, n, deadline)


def assert_closed(sock):
    """The broker hangs up without sending anything."""
    resp = read_frame(sock)
    assert resp is None, f'expected the connection to be closed, got a {len(resp)}-byte answer'


def assert_healthy(broker):
    assert broker.alive, f'broker died:\n{broker.log_tail()}'
    md = json.loads(kcat(broker.kafka, '-L', '-J', '-m', 15, timeout=30).stdout)
    assert [b['name'].split('/')[0] for b in md['brokers']] == [broker.kafka]


@pytest.fixture(autouse=True)
def _healthy_before_and_after(broker, kcat_bin):
    assert_healthy(broker)
    yield
    assert_healthy(broker)


def test_random_bytes(broker):
    rng = random.Random(20240611)
    for i in range(30):
        with connect(broker) as s:
            s.sendall(rng.randbytes(rng.choice([1, 3, 7, 64, 1000, 5000])))
    # A well-sized frame of garbage (api key 0xdead is no API): answered or closed, not hung.
    with connect(broker) as s:
        body = struct.pack('>hhi', -8531, 7, 1) + rng.randbytes(300)
        s.sendall(frame(body))
        resp = read_frame(s)
        if resp is not None:
            assert resp[:4] == struct.pack('>i', 1), 'answer carries the wrong correlation id'


def test_truncated_frames(broker):
    with connect(broker) as s:  # half a size prefix
        s.sendall(b'\x00\x00')
    with connect(broker) as s:  # a size, then part of the promised bytes
        s.sendall(struct.pack('>i', 200) + header(API_METADATA, 1, 7)[:12])
    with connect(broker) as s:  # a complete header, then the body stops short
        payload = header(API_METADATA, 1, 8) + struct.pack('>i', 3) + kstring('abc')
        s.sendall(struct.pack('>i', len(payload) + 50) + payload)
        s.shutdown(socket.SHUT_WR)
        assert_closed(s)


@pytest.mark.parametrize('size', [MAX_REQUEST_BYTES + 1, 64 << 20, 0x7fffffff, -1, -0x80000000])
def test_oversized_or_negative_frame_closes(broker, size):
    with connect(broker) as s:
        # Only the size and a little data: the broker must not wait for the rest.
        s.sendall(struct.pack('>i', size) + header(API_METADATA, 1, 9))
        assert_closed(s)


def test_unknown_api_key(broker):
    with connect(broker) as s:
        s.sendall(frame(header(999, 0, 42) + b'\x00' * 8))
        resp = read_frame(s)
        if resp is not None:  # closing is fine; an answer must at least be for this request
            assert resp[:4] == struct.pack('>i', 42)


def test_metadata_unsupported_version_closes(broker):
    with connect(broker) as s:
        s.sendall(frame(header(API_METADATA, 99, 43, flexible=True) + b'\x00'))
        assert_closed(s)


def parse_api_versions_v0(resp, corr):
    (got_corr, error, count) = struct.unpack_from('>ihi', resp, 0)
    assert got_corr == corr
    assert 0 <= count <= 1000, count
    # v0 layout exactly: no throttle time, no tagged fields after the ranges.
    assert len(resp) == 10 + 6 * count, (len(resp), count)
    ranges = {}
    for i in range(count):
        key, lo, hi = struct.unpack_from('>hhh', resp, 10 + 6 * i)
        assert 0 <= lo <= hi, (key, lo, hi)
        ranges[key] = (lo, hi)
    return error, ranges


def test_api_versions_unsupported_version_answers_v0(broker):
    with connect(broker) as s:
        s.sendall(frame(header(API_API_VERSIONS, 99, 44, flexible=True) + b'\x00'))
        resp = read_frame(s)
        assert resp is not None, 'ApiVersions v99 must be answered, not dropped'
        error, ranges = parse_api_versions_v0(resp, 44)
        assert error == UNSUPPORTED_VERSION
        # At least ApiVersions' own range, so the client can pick a version it shares (Kafka
        # lists only that one here).
        assert ranges.get(API_API_VERSIONS, (1, 0))[0] == 0, ranges
        # A client then retries with v0 on the same connection, as librdkafka and Java do.
        s.sendall(frame(header(API_API_VERSIONS, 0, 45)))
        resp = read_frame(s)
        assert resp is not None
        error, full = parse_api_versions_v0(resp, 45)
        assert error == 0
        assert {API_PRODUCE, API_METADATA, API_API_VERSIONS} <= set(full), full
        for key, (lo, hi) in ranges.items():
            assert full.get(key) == (lo, hi), (key, full.get(key), (lo, hi))


def message_set_v1(value, key=None):
    """One legacy (magic 1) message, the record format Produce v2 carries."""
    body = struct.pack('>bbq', 1, 0, int(time.time() * 1000)) + kbytes(key) + kbytes(value)
    msg = struct.pack('>I', zlib.crc32(body)) + body
    return struct.pack('>qi', 0, len(msg)) + msg


def test_produce_v2_unsupported_per_partition(broker, topic):
    create_topic(broker.kafka, topic, partitions=2)
    parts = b''.join(struct.pack('>i', p) + kbytes(message_set_v1(b'legacy', b'k'))
                     for p in (0, 1))
    body = struct.pack('>hi', -1, 10000) + struct.pack('>i', 1) + kstring(topic) + \
        struct.pack('>i', 2) + parts
    with connect(broker) as s:
        s.sendall(frame(header(API_PRODUCE, 2, 46) + body))
        resp = read_frame(s)
    assert resp is not None, 'Produce v2 must be answered'
    (corr, ntopics) = struct.unpack_from('>ii', resp, 0)
    assert corr == 46 and ntopics == 1
    pos = 8
    (nlen,) = struct.unpack_from('>h', resp, pos)
    name = resp[pos + 2:pos + 2 + nlen].decode()
    pos += 2 + nlen
    assert name == topic
    (nparts,) = struct.unpack_from('>i', resp, pos)
    pos += 4
    errors = {}
    for _ in range(nparts):
        p, err, _base, _append_time = struct.unpack_from('>ihqq', resp, pos)
        pos += 22
        errors[p] = err
    (throttle,) = struct.unpack_from('>i', resp, pos)
    assert pos + 4 == len(resp) and throttle >= 0
    assert errors == {0: UNSUPPORTED_VERSION, 1: UNSUPPORTED_VERSION}
    for p in (0, 1):  # and nothing was written
        assert watermarks(broker.kafka, topic, p) == (0, 0)
