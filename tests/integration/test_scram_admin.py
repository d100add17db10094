"""SCRAM credentials managed through the Kafka APIs (KIP-554): DescribeUserScramCredentials and
AlterUserScramCredentials, hand-built for every error path and through librdkafka 2.15's admin API
(tests/integration/c/scram_admin.c: the Debian clients and the npm bindings have no call for them), checked
against what a real client then does: confluent-kafka logs in over SASL_SSL with a credential created,
replaced or deleted here.

The client sends SaltedPassword = PBKDF2-HMAC(password, salt, iterations), computed here with hashlib as
Kafka's admin client does. Alter is refused outside TLS (the salted password logs in as the user).
"""
import hashlib
import os
import pathlib
import subprocess

from confluent_kafka import KafkaError

from kafka_helpers import run
from test_groups_kip848 import call, carray, cstr, uvarint
from test_security import (PASSWORDS, client_conf, expect_auth_failure, open_broker, pki,  # noqa: F401 (fixtures)
                           round_trip)

import pytest

pytestmark = pytest.mark.librdkafka

SHA256, SHA512 = 1, 2
NONE, CLUSTER_AUTH, UNSUPPORTED_MECHANISM, POLICY_VIOLATION = 0, 31, 33, 44
RESOURCE_NOT_FOUND, DUPLICATE_RESOURCE, UNACCEPTABLE_CREDENTIAL = 91, 92, 93
HASHES = {SHA256: 'sha256', SHA512: 'sha512'}


def cbytes(b):
    return uvarint(len(b) + 1) + b


def describe(addr, users, tls_ca=None):
    """DescribeUserScramCredentials v0 -> (error, {user: (error, message, {mechanism: iterations})}) in order."""
    body = (uvarint(0) if users is None else carray([cstr(u) + uvarint(0) for u in users])) + uvarint(0)
    r = call(addr, 50, 0, body, tls_ca)
    r.i32()
    error, _message = r.i16(), r.cstr()

    def info():
        out = (r.i8(), r.i32())
        r.tags()
        return out

    def result():
        user, err, message = r.cstr(), r.i16(), r.cstr()
        infos = dict(r.array(info))
        r.tags()
        return user, (err, message, infos)
    return error, r.array(result)


def upsertion(user, mechanism, password, iterations=4096, salt=None):
    salt = salt if salt is not None else os.urandom(24)
    salted = hashlib.pbkdf2_hmac(HASHES.get(mechanism, 'sha256'), password.encode(), salt, iterations)
    return (cstr(user) + bytes([mechanism]) + iterations.to_bytes(4, 'big', signed=True) + cbytes(salt) +
            cbytes(salted) + uvarint(0))


def deletion(user, mechanism):
    return cstr(user) + bytes([mechanism]) + uvarint(0)


def alter(addr, deletions=(), upsertions=(), tls_ca=None):
    """AlterUserScramCredentials v0 -> [(user, error, message)]."""
    r = call(addr, 51, 0, carray(list(deletions)) + carray(list(upsertions)) + uvarint(0), tls_ca)
    r.i32()

    def result():
        out = (r.cstr(), r.i16(), r.cstr())
        r.tags()
        return out
    return r.array(result)


def scram_conf(broker, pki, mechanism, user, password):  # noqa: F811 (pki: the fixture's value)
    return client_conf(broker, pki, 'SASL_SSL', mechanism, user, password, cert=None)


def test_describe_lists_mechanisms_and_iterations_never_secrets(open_broker, pki):  # noqa: F811
    plain = open_broker.listeners['PLAINTEXT']
    error, results = describe(plain, None)
    assert error == NONE
    got = dict(results)
    assert got['alice'] == (NONE, None, {SHA256: 8192})  # kafscale user add's default
    assert got['bob'] == (NONE, None, {SHA512: 8192})
    error, results = describe(plain, ['alice', 'nobody', 'alice'])
    assert error == NONE
    assert [u for u, _ in results] == ['alice', 'nobody', 'alice']
    assert results[0][1][0] == DUPLICATE_RESOURCE and results[2][1][0] == DUPLICATE_RESOURCE
    assert results[1][1][:2] == (RESOURCE_NOT_FOUND,
                                 'Attempt to describe a user credential that does not exist: nobody')
    assert describe(plain, [])[1] == describe(plain, None)[1]  # empty = everyone, as Kafka


def test_alter_is_refused_without_tls(open_broker, pki):  # noqa: F811
    results = alter(open_broker.listeners['PLAINTEXT'], upsertions=[upsertion('mallory', SHA256, 'pw-123456')])
    assert [(u, e) for u, e, _ in results] == [('mallory', UNACCEPTABLE_CREDENTIAL)]
    assert 'only over TLS' in results[0][2] and "'PLAINTEXT'" in results[0][2]
    assert describe(open_broker.listeners['PLAINTEXT'], ['mallory'])[1][0][1][0] == RESOURCE_NOT_FOUND


def test_alter_validates_as_kafka(open_broker, pki):  # noqa: F811
    ssl_addr, ca = open_broker.listeners['SSL'], str(pki / 'ca.pem')
    results = alter(ssl_addr, deletions=[deletion('nobody', SHA256), deletion('', SHA256)],
                    upsertions=[upsertion('few', SHA256, 'pw', iterations=100),
                                upsertion('many', SHA512, 'pw', iterations=20000),
                                upsertion('odd', 9, 'pw'),
                                upsertion('twice', SHA256, 'a'), upsertion('twice', SHA256, 'b')],
                    tls_ca=ca)
    assert results == [
        ('nobody', RESOURCE_NOT_FOUND, 'Attempt to delete a user credential that does not exist'),
        ('', UNACCEPTABLE_CREDENTIAL, 'Username must not be empty'),
        ('few', UNACCEPTABLE_CREDENTIAL, 'Too few iterations'),
        ('many', UNACCEPTABLE_CREDENTIAL, 'Too many iterations'),
        ('odd', UNSUPPORTED_MECHANISM, 'Unknown SCRAM mechanism'),
        ('twice', DUPLICATE_RESOURCE, 'A user credential cannot be altered twice in the same request'),
    ]
    # Nothing of a refused user was written.
    _, described = describe(ssl_addr, ['few', 'many', 'twice'], tls_ca=ca)
    assert [r[0] for _, r in described] == [RESOURCE_NOT_FOUND] * 3


def test_created_replaced_and_deleted_credentials_apply_to_logins(open_broker, pki):  # noqa: F811
    ssl_addr, ca = open_broker.listeners['SSL'], str(pki / 'ca.pem')
    assert alter(ssl_addr, upsertions=[upsertion('carol', SHA256, 'carol-first', iterations=8192),
                                       upsertion('carol', SHA512, 'carol-512')], tls_ca=ca) == [
        ('carol', NONE, None)]
    assert dict(describe(ssl_addr, ['carol'], tls_ca=ca)[1])['carol'] == (NONE, None, {SHA256: 8192, SHA512: 4096})
    round_trip(scram_conf(open_broker, pki, 'SCRAM-SHA-256', 'carol', 'carol-first'))
    round_trip(scram_conf(open_broker, pki, 'SCRAM-SHA-512', 'carol', 'carol-512'))

    # A new password replaces the old one at the next login.
    assert alter(ssl_addr, upsertions=[upsertion('carol', SHA256, 'carol-second')], tls_ca=ca) == [
        ('carol', NONE, None)]
    expect_auth_failure(scram_conf(open_broker, pki, 'SCRAM-SHA-256', 'carol', 'carol-first'),
                        {KafkaError._AUTHENTICATION})
    round_trip(scram_conf(open_broker, pki, 'SCRAM-SHA-256', 'carol', 'carol-second'))

    # A user's changes apply together: a refused upsertion keeps the deletion beside it from applying.
    refused = alter(ssl_addr, deletions=[deletion('carol', SHA256)],
                    upsertions=[upsertion('carol', SHA512, 'x', iterations=100)], tls_ca=ca)
    assert refused == [('carol', UNACCEPTABLE_CREDENTIAL, 'Too few iterations')]
    assert dict(describe(ssl_addr, ['carol'], tls_ca=ca)[1])['carol'] == (NONE, None, {SHA256: 4096, SHA512: 4096})
    # Each user on its own: carol's deletion applies, dave's (nothing to delete) is refused.
    bad = alter(ssl_addr, deletions=[deletion('carol', SHA256), deletion('dave', SHA512)], tls_ca=ca)
    assert [(u, e) for u, e, _ in bad] == [('carol', NONE), ('dave', RESOURCE_NOT_FOUND)]
    assert dict(describe(ssl_addr, ['carol'], tls_ca=ca)[1])['carol'] == (NONE, None, {SHA512: 4096})
    expect_auth_failure(scram_conf(open_broker, pki, 'SCRAM-SHA-256', 'carol', 'carol-second'),
                        {KafkaError._AUTHENTICATION})
    assert alter(ssl_addr, deletions=[deletion('carol', SHA512)], tls_ca=ca) == [('carol', NONE, None)]
    assert describe(ssl_addr, ['carol'], tls_ca=ca)[1][0][1][0] == RESOURCE_NOT_FOUND
    # The users created before the broker started are untouched.
    round_trip(scram_conf(open_broker, pki, 'SCRAM-SHA-256', 'alice', PASSWORDS['alice']))


# ---- librdkafka 2.15's admin API (rd_kafka_AlterUserScramCredentials / rd_kafka_DescribeUserScramCredentials)

HERE = pathlib.Path(__file__).resolve().parent
RDK_215_DIR = HERE / 'node-rdkafka/node_modules/@confluentinc/kafka-javascript/build/deps'


@pytest.fixture(scope='module')
def scram_admin_bin(tmp_path_factory):
    """tests/integration/c/scram_admin.c built against the librdkafka 2.15 of scripts/install-deps.sh --test."""
    assert (RDK_215_DIR / 'librdkafka.so.1').exists(), f'librdkafka 2.15 is not built ({RDK_215_DIR})'
    out = tmp_path_factory.mktemp('scram-admin') / 'scram_admin'
    run(['gcc', '-O1', '-Wall', '-Werror', '-o', str(out), str(HERE / 'c' / 'scram_admin.c'),
         f'-I{RDK_215_DIR}/include', f'-L{RDK_215_DIR}', '-lrdkafka', f'-Wl,-rpath,{RDK_215_DIR}'])
    return out


@pytest.mark.librdkafka_2_15
def test_librdkafka_admin_api(open_broker, pki, scram_admin_bin):  # noqa: F811
    ssl_addr, ca = open_broker.listeners['SSL'], str(pki / 'ca.pem')

    def tool(*args):
        proc = subprocess.run([str(scram_admin_bin), ssl_addr, ca, *args], capture_output=True, timeout=120)
        assert proc.returncode == 0, proc.stderr.decode()
        return sorted(proc.stdout.decode().splitlines())

    # librdkafka draws the salt and derives the salted password itself.
    assert tool('alter', 'upsert:erin:SCRAM-SHA-512:8192:erin-pw', 'delete:nobody:SCRAM-SHA-256') == [
        'erin 0', f'nobody {RESOURCE_NOT_FOUND}']
    assert tool('describe', 'erin', 'alice') == ['alice 0 SCRAM-SHA-256:8192', 'erin 0 SCRAM-SHA-512:8192']
    round_trip(scram_conf(open_broker, pki, 'SCRAM-SHA-512', 'erin', 'erin-pw'))
    assert tool('alter', 'delete:erin:SCRAM-SHA-512') == ['erin 0']
    assert tool('describe', 'erin') == [f'erin {RESOURCE_NOT_FOUND}']
    expect_auth_failure(scram_conf(open_broker, pki, 'SCRAM-SHA-512', 'erin', 'erin-pw'),
                        {KafkaError._AUTHENTICATION})


def test_upsertions_beyond_max_scram_credentials_are_refused(broker_factory, pki):  # noqa: F811
    b = broker_factory(['--listeners', 'SSL://127.0.0.1:0', '--ssl.keystore.location',
                        str(pki / 'server-keystore.pem'), '--max-scram-credentials', '2'], name='scram-limit')
    b.start()
    addr, ca = b.listeners['SSL'], str(pki / 'ca.pem')
    assert alter(addr, upsertions=[upsertion('u1', SHA256, 'pw-1'), upsertion('u1', SHA512, 'pw-1')],
                 tls_ca=ca) == [('u1', NONE, None)]
    # A third credential is refused; replacing an existing one is not growth.
    assert alter(addr, upsertions=[upsertion('u2', SHA256, 'pw-2'), upsertion('u1', SHA256, 'pw-new')],
                 tls_ca=ca) == [('u2', POLICY_VIOLATION, 'SCRAM credentials are at the limit (max-scram-credentials = 2)'),
                                ('u1', NONE, None)]
    # Deleting one makes room.
    assert alter(addr, deletions=[deletion('u1', SHA512)], upsertions=[upsertion('u2', SHA256, 'pw-2')],
                 tls_ca=ca) == [('u1', NONE, None), ('u2', NONE, None)]
    assert {u for u, _ in describe(addr, None, tls_ca=ca)[1]} == {'u1', 'u2'}
