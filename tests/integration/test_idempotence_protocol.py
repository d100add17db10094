"""Idempotent-producer answers to hand-crafted batches: duplicates, gaps, epochs, expiry.

Frames are built by hand from the Kafka protocol guide (non-flexible versions):
  InitProducerId v1: transactional_id nullable string, transaction_timeout_ms int32
  Produce v7: transactional_id, acks int16, timeout int32, [topic string, [partition int32, records bytes]]
  IncrementalAlterConfigs v0: [type int8, name string, [key string, op int8, value nullable string]], validate bool
  RecordBatch v2 with producer id, epoch and base sequence (CRC32C over attributes..end).
"""
import socket
import struct
import time

from kafka.record.util import calc_crc32c

from kafka_helpers import create_topic, read_all, wait_for

BROKER_ARGS = ['--auto-create-topics=false']

IO_TIMEOUT_S = 10
NONE, OUT_OF_ORDER, INVALID_EPOCH, TXN_ID_AUTH_FAILED = 0, 45, 47, 53


# ---------------------------------------------------------------- wire helpers

def kstring(s):
    if s is None:
        return struct.pack('>h', -1)
    b = s.encode()
    return struct.pack('>h', len(b)) + b


def kbytes(b):
    return struct.pack('>i', len(b)) + b


def varint(n):
    n = (n << 1) ^ (n >> 63)  # zigzag
    out = b''
    while True:
        byte = n & 0x7f
        n >>= 7
        if n:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def record(offset_delta, value):
    body = b'\x00' + varint(0) + varint(offset_delta) + varint(-1) + varint(len(value)) + value + varint(0)
    return varint(len(body)) + body


def record_batch(values, producer_id=-1, epoch=-1, sequence=-1, timestamp=None):
    ts = int(time.time() * 1000) if timestamp is None else timestamp
    records = b''.join(record(i, v) for i, v in enumerate(values))
    after_crc = struct.pack('>hiqqqhii', 0, len(values) - 1, ts, ts, producer_id, epoch, sequence,
                            len(values)) + records
    crc = calc_crc32c(after_crc)
    rest = struct.pack('>ibI', -1, 2, crc) + after_crc  # partition leader epoch, magic, crc
    return struct.pack('>qi', 0, len(rest)) + rest


class Conn:
    def __init__(self, broker):
        host, port = broker.kafka.rsplit(':', 1)
        self.sock = socket.create_connection((host, int(port)), timeout=IO_TIMEOUT_S)
        self.corr = 0

    def close(self):
        self.sock.close()

    def send(self, api_key, version, body):
        self.corr += 1
        h = struct.pack('>hhi', api_key, version, self.corr) + kstring('kafscale-it-idem')
        payload = h + body
        self.sock.sendall(struct.pack('>i', len(payload)) + payload)
        return self.corr

    def recv(self, corr):
        size = self._exact(4)
        (n,) = struct.unpack('>i', size)
        data = self._exact(n)
        (got,) = struct.unpack('>i', data[:4])
        assert got == corr, f'correlation id {got}, expected {corr}'
        return data[4:]

    def call(self, api_key, version, body):
        return self.recv(self.send(api_key, version, body))

    def _exact(self, n):
        buf = b''
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            assert chunk, 'broker closed the connection'
            buf += chunk
        return buf


def init_producer_id(conn, transactional_id=None):
    r = conn.call(22, 1, kstring(transactional_id) + struct.pack('>i', 60000))
    _, error, pid, epoch = struct.unpack('>ihqh', r[:16])
    return error, pid, epoch


def produce_request(topic, partition, batch):
    return (kstring(None) + struct.pack('>hii', -1, 10000, 1) + kstring(topic) + struct.pack('>ii', 1, partition) +
            kbytes(batch))


def produce_response(r):
    """(error, base_offset) of the single partition of a Produce v7 response."""
    (ntopics,) = struct.unpack('>i', r[:4])
    assert ntopics == 1
    (nlen,) = struct.unpack('>h', r[4:6])
    at = 6 + nlen
    (nparts,) = struct.unpack('>i', r[at:at + 4])
    assert nparts == 1
    _, error, base, _, _ = struct.unpack('>ihqqq', r[at + 4:at + 4 + 30])
    return error, base


def produce(conn, topic, batch, partition=0):
    return produce_response(conn.call(0, 7, produce_request(topic, partition, batch)))


def set_producer_expiration(conn, value):
    """IncrementalAlterConfigs v0 on broker 0: SET (or DELETE when value is None)."""
    op = 1 if value is None else 0
    body = (struct.pack('>i', 1) + struct.pack('>b', 4) + kstring('0') + struct.pack('>i', 1) +
            kstring('producer.id.expiration.ms') + struct.pack('>b', op) +
            kstring(None if value is None else str(value)) + b'\x00')
    r = conn.call(44, 0, body)
    (_, n, error) = struct.unpack('>iih', r[:10])
    assert n == 1 and error == 0, f'IncrementalAlterConfigs error {error}'


# ---------------------------------------------------------------- tests

def test_init_producer_id(broker):
    c = Conn(broker)
    try:
        e1, p1, ep1 = init_producer_id(c)
        e2, p2, ep2 = init_producer_id(c)
        assert (e1, ep1, e2, ep2) == (NONE, 0, NONE, 0)
        assert p1 >= 0 and p2 >= 0 and p1 != p2
        assert init_producer_id(c, 'my-transactions')[0] == TXN_ID_AUTH_FAILED
    finally:
        c.close()
    # Never reused after a restart.
    broker.restart(hard=True)
    c = Conn(broker)
    try:
        _, p3, _ = init_producer_id(c)
        assert p3 not in (p1, p2)
    finally:
        c.close()


def test_duplicates_gaps_and_epochs(broker, topic):
    create_topic(broker.kafka, topic, partitions=1)
    c = Conn(broker)
    try:
        _, pid, _ = init_producer_id(c)
        b0 = record_batch([b'a0', b'a1', b'a2'], pid, 0, 0)
        assert produce(c, topic, b0) == (NONE, 0)
        assert produce(c, topic, b0) == (NONE, 0)  # duplicate: original offset, not appended again
        b1 = record_batch([b'a3', b'a4'], pid, 0, 3)
        assert produce(c, topic, b1) == (NONE, 3)
        assert produce(c, topic, b0) == (NONE, 0)  # still within the last 5 batches
        assert produce(c, topic, record_batch([b'x'], pid, 0, 9))[0] == OUT_OF_ORDER  # gap
        assert produce(c, topic, record_batch([b'x'], pid, 0, 4))[0] == OUT_OF_ORDER  # overlap
        assert produce(c, topic, record_batch([b'x'], pid, 1, 5))[0] == OUT_OF_ORDER  # new epoch not at 0
        # Epoch bump at sequence 0 without InitProducerId (KIP-360, librdkafka).
        bumped = record_batch([b'b0'], pid, 1, 0)
        assert produce(c, topic, bumped) == (NONE, 5)
        assert produce(c, topic, b1)[0] == INVALID_EPOCH  # the old epoch is fenced now
        # A producer id with no state is accepted at any sequence.
        assert produce(c, topic, record_batch([b'c0'], pid + 1_000_000, 3, 1234)) == (NONE, 6)
    finally:
        c.close()
    # The state survives a crash: a retry after the restart is still a duplicate.
    broker.restart(hard=True)
    c = Conn(broker)
    try:
        assert produce(c, topic, bumped) == (NONE, 5)
        assert produce(c, topic, b1)[0] == INVALID_EPOCH
        assert produce(c, topic, record_batch([b'b1'], pid, 1, 1)) == (NONE, 7)
    finally:
        c.close()
    values = [r['value'] for r in read_all(broker.kafka, topic, 1)]
    assert values == [b'a0', b'a1', b'a2', b'a3', b'a4', b'b0', b'c0', b'b1']


def test_retry_of_a_pending_batch_gets_the_same_offset(broker, topic):
    """The same batch on two connections at once: one append, both answered with its offset."""
    create_topic(broker.kafka, topic, partitions=1)
    c1, c2 = Conn(broker), Conn(broker)
    try:
        _, pid, _ = init_producer_id(c1)
        for seq in range(0, 50, 5):
            batch = record_batch([f'v{seq + i}'.encode() for i in range(5)], pid, 0, seq)
            req = produce_request(topic, 0, batch)
            k1 = c1.send(0, 7, req)
            k2 = c2.send(0, 7, req)
            k3 = c1.send(0, 7, req)  # pipelined on the same connection too
            answers = {produce_response(c1.recv(k1)), produce_response(c2.recv(k2)), produce_response(c1.recv(k3))}
            assert answers == {(NONE, seq)}, answers
    finally:
        c1.close()
        c2.close()
    assert len(read_all(broker.kafka, topic, 1)) == 50


def test_expired_producer_is_accepted_at_any_sequence(broker, topic):
    create_topic(broker.kafka, topic, partitions=1)
    c = Conn(broker)
    try:
        _, pid, _ = init_producer_id(c)
        assert produce(c, topic, record_batch([b'a'], pid, 0, 0)) == (NONE, 0)
        assert produce(c, topic, record_batch([b'b'], pid, 0, 7))[0] == OUT_OF_ORDER
        set_producer_expiration(c, 500)
        try:
            # Out of order until the state expires, then accepted at any sequence.
            answers = []

            def accepted():
                answers.append(produce(c, topic, record_batch([b'b'], pid, 0, 7)))
                return answers[-1][0] == NONE

            wait_for(accepted, 10, 'the producer state to expire', interval=0.1)
            assert answers[-1] == (NONE, 1)
            assert all(a[0] == OUT_OF_ORDER for a in answers[:-1])
        finally:
            set_producer_expiration(c, None)
        # State is back for the producer: the next in-sequence batch follows.
        assert produce(c, topic, record_batch([b'c'], pid, 0, 8)) == (NONE, 2)
    finally:
        c.close()
