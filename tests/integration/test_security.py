"""Listeners, TLS, mTLS and SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) with real clients.

The certificates are made here with the openssl command: a CA, a server certificate for 127.0.0.1
and localhost, a client certificate (CN=alice) and, for the failure cases, a second CA nobody
trusts with its own client certificate. SCRAM users are written with `kafscale user add` before
the broker starts; PLAIN users come from a file.

Two brokers: `open` serves PLAINTEXT, SSL, SASL_PLAINTEXT and SASL_SSL listeners (no client
certificates); `mtls` serves one SSL listener that requires a client certificate.
"""
import socket
import struct
import subprocess
import time
import uuid

import confluent_kafka
import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

import kafka_helpers
from conftest import BROKER_BIN
from kafka_helpers import run

pytestmark = pytest.mark.librdkafka

TIMEOUT_S = 30
PASSWORDS = {'alice': 'alice-secret', 'bob': 'bob-secret-512'}


def openssl(*args, cwd):
    run(['openssl', *args], cwd=cwd)


@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp('pki')

    def ca(name):
        openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', f'/CN={name}',
                '-keyout', f'{name}.key', '-out', f'{name}.pem', cwd=d)

    def signed(name, ca_name, subject, ext=None):
        openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', subject, '-keyout', f'{name}.key', '-out',
                f'{name}.csr', cwd=d)
        cmd = ['x509', '-req', '-in', f'{name}.csr', '-CA', f'{ca_name}.pem', '-CAkey', f'{ca_name}.key',
               '-CAcreateserial', '-days', '2', '-out', f'{name}.pem']
        if ext:
            (d / f'{name}.ext').write_text(ext)
            cmd += ['-extfile', f'{name}.ext']
        openssl(*cmd, cwd=d)

    ca('ca')
    ca('rogue-ca')
    signed('server', 'ca', '/CN=localhost/O=KafScale test',
           'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n')
    signed('client', 'ca', '/CN=alice/O=KafScale test', 'extendedKeyUsage=clientAuth\n')
    signed('rogue', 'rogue-ca', '/CN=mallory', 'extendedKeyUsage=clientAuth\n')
    # A second server certificate, from the other CA: a listener with its own keystore.
    signed('external', 'rogue-ca', '/CN=external', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n')
    (d / 'external-keystore.pem').write_text((d / 'external.pem').read_text() + (d / 'external.key').read_text())
    # The keystore: certificate chain and key in one PEM file.
    (d / 'server-keystore.pem').write_text((d / 'server.pem').read_text() + (d / 'server.key').read_text())
    (d / 'plain-users').write_text('# PLAIN users\nalice:alice-secret\n')
    return d


def add_scram_user(data_dir, name, mechanism, password):
    proc = subprocess.run([BROKER_BIN, 'user', 'add', name, '--mechanism', mechanism, '--password-file', '-',
                           '--metadata', f'embedded://{data_dir}/meta'],
                          input=(password + '\n').encode(), capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    assert password not in proc.stdout.decode() + proc.stderr.decode()


@pytest.fixture(scope='module')
def open_broker(broker_factory, pki):
    b = broker_factory([
        '--listeners', 'PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,'
        'SASL_SSL://127.0.0.1:0', '--ssl.keystore.location', str(pki / 'server-keystore.pem'),
        '--sasl.enabled.mechanisms', 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512', '--sasl-plain-users-file',
        str(pki / 'plain-users'), '--authentication-timeout-ms', '3000'
    ], name='open')
    b.data_dir.mkdir(parents=True, exist_ok=True)
    add_scram_user(b.data_dir, 'alice', 'SCRAM-SHA-256', PASSWORDS['alice'])
    add_scram_user(b.data_dir, 'bob', 'SCRAM-SHA-512', PASSWORDS['bob'])
    b.start()
    return b


@pytest.fixture(scope='module')
def mtls_broker(broker_factory, pki):
    b = broker_factory([
        '--listeners', 'EXTERNAL://127.0.0.1:0', '--listener.security.protocol.map', 'EXTERNAL:SSL',
        '--ssl.keystore.location', str(pki / 'server-keystore.pem'), '--ssl.truststore.location',
        str(pki / 'ca.pem'), '--ssl.client.auth', 'required'
    ], name='mtls')
    b.start()
    return b


def client_conf(broker, pki, listener, mechanism=None, user=None, password=None, cert='client'):
    conf = {'bootstrap.servers': broker.listeners[listener], 'log_level': 3}
    protocol = {'PLAINTEXT': 'PLAINTEXT', 'SSL': 'SSL', 'EXTERNAL': 'SSL', 'SASL_PLAINTEXT': 'SASL_PLAINTEXT',
                'SASL_SSL': 'SASL_SSL'}[listener]
    conf['security.protocol'] = protocol
    if 'SSL' in protocol:
        conf['ssl.ca.location'] = str(pki / 'ca.pem')
        if cert:
            conf['ssl.certificate.location'] = str(pki / f'{cert}.pem')
            conf['ssl.key.location'] = str(pki / f'{cert}.key')
    if mechanism:
        conf['sasl.mechanism'] = mechanism
        conf['sasl.username'] = user
        conf['sasl.password'] = password
    return conf


def round_trip(conf):
    """Admin (CreateTopics, Metadata), produce and a group consume through `conf`."""
    topic = f'sec-{uuid.uuid4().hex[:8]}'
    admin = AdminClient(dict(conf))
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)],
                        operation_timeout=TIMEOUT_S)[topic].result(timeout=TIMEOUT_S)
    kafka_helpers.wait_for(lambda: topic in admin.list_topics(timeout=TIMEOUT_S).topics, TIMEOUT_S,
                           f'{topic} in metadata')
    records = [{'key': f'k{i}'.encode(), 'value': f'v{i}'.encode()} for i in range(20)]
    p = confluent_kafka.Producer({**conf, 'acks': 'all', 'linger.ms': 5, 'message.timeout.ms': TIMEOUT_S * 1000})
    errors = []
    for r in records:
        p.produce(topic, key=r['key'], value=r['value'], on_delivery=lambda err, msg: errors.append(err))
    assert p.flush(TIMEOUT_S) == 0
    assert errors == [None] * len(records)
    c = confluent_kafka.Consumer({**conf, 'group.id': f'g-{topic}', 'auto.offset.reset': 'earliest',
                                  'enable.auto.commit': False})
    try:
        c.subscribe([topic])
        got = []
        deadline = time.monotonic() + TIMEOUT_S
        while len(got) < len(records) and time.monotonic() < deadline:
            kafka_helpers.check_brokers()
            m = c.poll(0.5)
            if m is not None and not m.error():
                got.append(m.value())
        assert sorted(got) == sorted(r['value'] for r in records)
        c.commit(asynchronous=False)
    finally:
        c.close()
    return topic


def expect_auth_failure(conf, codes):
    """A client that cannot authenticate: its Metadata call fails, its error callback says why."""
    seen = []
    admin = AdminClient({**conf, 'error_cb': lambda err: seen.append(err)})
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=5)

    def failed():
        admin.poll(0.1)  # serves the error callback
        return any(e.code() in codes for e in seen)

    kafka_helpers.wait_for(failed, 10, f'one of {codes} in {seen}')
    return seen


def check_healthy(broker, pki):
    """The broker still serves: a good client works and /readyz is ready."""
    assert broker.alive
    md = AdminClient(client_conf(broker, pki, 'PLAINTEXT') if 'PLAINTEXT' in broker.listeners else
                     client_conf(broker, pki, 'EXTERNAL')).list_topics(timeout=TIMEOUT_S)
    assert md.brokers
    status, _ = broker.http_get('/readyz')
    assert status == 200


# ---- every listener with confluent-kafka-python (librdkafka)


@pytest.mark.parametrize('listener,mechanism,user', [
    ('PLAINTEXT', None, None),
    ('SSL', None, None),
    ('SASL_PLAINTEXT', 'PLAIN', 'alice'),
    ('SASL_PLAINTEXT', 'SCRAM-SHA-256', 'alice'),
    ('SASL_PLAINTEXT', 'SCRAM-SHA-512', 'bob'),
    ('SASL_SSL', 'PLAIN', 'alice'),
    ('SASL_SSL', 'SCRAM-SHA-256', 'alice'),
    ('SASL_SSL', 'SCRAM-SHA-512', 'bob'),
])
def test_confluent_round_trip(open_broker, pki, listener, mechanism, user):
    conf = client_conf(open_broker, pki, listener, mechanism, user, PASSWORDS.get(user), cert=None)
    round_trip(conf)


def test_metadata_answers_with_the_listener_the_client_came_in_on(open_broker, pki):
    for listener in ('PLAINTEXT', 'SSL', 'SASL_SSL'):
        conf = client_conf(open_broker, pki, listener, 'SCRAM-SHA-256' if 'SASL' in listener else None, 'alice',
                           PASSWORDS['alice'], cert=None)
        md = AdminClient(conf).list_topics(timeout=TIMEOUT_S)
        addrs = {f'{b.host}:{b.port}' for b in md.brokers.values()}
        assert addrs == {open_broker.listeners[listener]}, (listener, addrs)


def test_mtls_round_trip(mtls_broker, pki):
    round_trip(client_conf(mtls_broker, pki, 'EXTERNAL', cert='client'))


# ---- kcat


def kcat_args(conf):
    args = []
    for k, v in conf.items():
        if k not in ('bootstrap.servers', 'log_level'):
            args += ['-X', f'{k}={v}']
    return args


@pytest.mark.parametrize('listener,mechanism,user', [
    ('SSL', None, None),
    ('SASL_PLAINTEXT', 'PLAIN', 'alice'),
    ('SASL_SSL', 'SCRAM-SHA-256', 'alice'),
    ('SASL_SSL', 'SCRAM-SHA-512', 'bob'),
])
def test_kcat(open_broker, pki, kcat_bin, listener, mechanism, user):
    conf = client_conf(open_broker, pki, listener, mechanism, user, PASSWORDS.get(user), cert=None)
    topic = f'kcat-{uuid.uuid4().hex[:8]}'
    boot = conf['bootstrap.servers']
    kafka_helpers.kcat(boot, *kcat_args(conf), '-P', '-t', topic, '-p', '0', '-K:', input=b'a:1\nb:2\nc:3\n')
    out = kafka_helpers.kcat(boot, *kcat_args(conf), '-C', '-t', topic, '-p', '0', '-o', 'beginning', '-e',
                             '-f', '%k=%s\n').stdout.decode()
    assert out.split() == ['a=1', 'b=2', 'c=3']
    md = kafka_helpers.kcat(boot, *kcat_args(conf), '-L', '-t', topic).stdout.decode()
    assert boot in md


def test_kcat_mtls(mtls_broker, pki, kcat_bin):
    conf = client_conf(mtls_broker, pki, 'EXTERNAL', cert='client')
    topic = f'kcat-{uuid.uuid4().hex[:8]}'
    boot = conf['bootstrap.servers']
    kafka_helpers.kcat(boot, *kcat_args(conf), '-P', '-t', topic, '-p', '0', input=b'x\ny\n')
    out = kafka_helpers.kcat(boot, *kcat_args(conf), '-C', '-t', topic, '-p', '0', '-o', 'beginning', '-e')
    assert out.stdout.decode().split() == ['x', 'y']


# ---- kafka-python (its own protocol code: SaslHandshake v0 and raw SASL tokens)


@pytest.mark.parametrize('mechanism,user', [('SCRAM-SHA-256', 'alice'), ('SCRAM-SHA-512', 'bob'),
                                            ('PLAIN', 'alice')])
def test_kafka_python_sasl_ssl(open_broker, pki, mechanism, user):
    kafka_python_round_trip(
        dict(bootstrap_servers=open_broker.listeners['SASL_SSL'], security_protocol='SASL_SSL',
             sasl_mechanism=mechanism, sasl_plain_username=user, sasl_plain_password=PASSWORDS[user],
             ssl_cafile=str(pki / 'ca.pem'), request_timeout_ms=TIMEOUT_S * 1000 + 5000),
        client_conf(open_broker, pki, 'PLAINTEXT'))


def test_kafka_python_mtls(mtls_broker, pki):
    kafka_python_round_trip(
        dict(bootstrap_servers=mtls_broker.listeners['EXTERNAL'], security_protocol='SSL',
             ssl_cafile=str(pki / 'ca.pem'), ssl_certfile=str(pki / 'client.pem'),
             ssl_keyfile=str(pki / 'client.key'), request_timeout_ms=TIMEOUT_S * 1000 + 5000),
        client_conf(mtls_broker, pki, 'EXTERNAL', cert='client'))


def kafka_python_round_trip(common, admin_conf):
    """kafka-python with `common` (its connection settings): 5 records produced, acknowledged and read back."""
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    topic = f'kp-{uuid.uuid4().hex[:8]}'
    admin = AdminClient(admin_conf)  # must outlive the future
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=TIMEOUT_S)
    p = KafkaProducer(acks='all', max_block_ms=TIMEOUT_S * 1000, **common)
    try:
        metas = [p.send(topic, value=f'm{i}'.encode(), partition=0) for i in range(5)]
        p.flush(timeout=TIMEOUT_S)
        assert [m.get(timeout=TIMEOUT_S).offset for m in metas] == list(range(5))
    finally:
        p.close()
    c = KafkaConsumer(group_id=None, enable_auto_commit=False, **common)
    try:
        tp = TopicPartition(topic, 0)
        c.assign([tp])
        c.seek_to_beginning(tp)
        got = []
        deadline = time.monotonic() + TIMEOUT_S
        while len(got) < 5 and time.monotonic() < deadline:
            for recs in c.poll(timeout_ms=500).values():
                got.extend(r.value for r in recs)
        assert got == [f'm{i}'.encode() for i in range(5)]
    finally:
        c.close()


# ---- kafkajs (smoke): produce over SASL_SSL with SCRAM and over mTLS


def kafkajs_produce(addr, pki, **security):
    topic = f'js-{uuid.uuid4().hex[:8]}'
    out = kafka_helpers.node_script('produce.js', {
        'brokers': [addr], 'topic': topic, 'acks': -1,
        'ssl': {'ca': str(pki / 'ca.pem'), **security.get('cert', {})},
        **({'sasl': security['sasl']} if 'sasl' in security else {}),
        'batches': [[{'key': f'k{i}', 'value': f'v{i}', 'partition': 0} for i in range(5)]],
    })
    assert [int(o['offset']) for o in out['offsets']] == list(range(5))
    return topic


@pytest.mark.parametrize('mechanism,user', [('scram-sha-256', 'alice'), ('scram-sha-512', 'bob')])
def test_kafkajs_sasl_ssl_scram(open_broker, pki, node_bin, mechanism, user):
    kafkajs_produce(open_broker.listeners['SASL_SSL'], pki,
                    sasl={'mechanism': mechanism, 'username': user, 'password': PASSWORDS[user]})


def test_kafkajs_mtls(mtls_broker, pki, node_bin):
    kafkajs_produce(mtls_broker.listeners['EXTERNAL'], pki,
                    cert={'cert': str(pki / 'client.pem'), 'key': str(pki / 'client.key')})


# ---- failures: the client gets Kafka's error, the broker stays healthy


@pytest.mark.parametrize('listener,mechanism,user,password', [
    ('SASL_SSL', 'SCRAM-SHA-256', 'alice', 'wrong'),
    ('SASL_SSL', 'SCRAM-SHA-512', 'alice', PASSWORDS['alice']),  # alice has no SHA-512 credential
    ('SASL_PLAINTEXT', 'SCRAM-SHA-256', 'nobody', 'x'),
    ('SASL_PLAINTEXT', 'PLAIN', 'alice', 'wrong'),
    ('SASL_SSL', 'PLAIN', 'nobody', 'x'),
])
def test_bad_credentials(open_broker, pki, listener, mechanism, user, password):
    conf = client_conf(open_broker, pki, listener, mechanism, user, password, cert=None)
    expect_auth_failure(conf, {KafkaError._AUTHENTICATION})
    check_healthy(open_broker, pki)


def test_unsupported_mechanism_is_refused(open_broker, pki):
    with sasl_socket(open_broker) as s:
        mech = b'GSSAPI'
        s.sendall(frame(17, 1, struct.pack('>h', len(mech)) + mech))  # SaslHandshake v1
        s.settimeout(10)
        size = struct.unpack('>i', s.recv(4, socket.MSG_WAITALL))[0]
        body = s.recv(size, socket.MSG_WAITALL)
        corr, err, n = struct.unpack('>ihi', body[:10])
        assert (corr, err) == (1, 33)  # UNSUPPORTED_SASL_MECHANISM
        mechs, at = [], 10
        for _ in range(n):
            ln = struct.unpack('>h', body[at:at + 2])[0]
            mechs.append(body[at + 2:at + 2 + ln].decode())
            at += 2 + ln
        assert mechs == ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']
        assert closed_by_peer(s)
    check_healthy(open_broker, pki)


def test_principal_mapping_rules(broker_factory, pki):
    """ssl.principal.mapping.rules: the client certificate (DN O=KafScale test,CN=alice) becomes User:alice,
    the only super user of an authorizer with no ACLs, so everything works; a certificate no rule matches is
    refused in the handshake."""
    def mtls_with_rules(rules, name):
        b = broker_factory([
            '--listeners', 'EXTERNAL://127.0.0.1:0', '--listener.security.protocol.map', 'EXTERNAL:SSL',
            '--ssl.keystore.location', str(pki / 'server-keystore.pem'), '--ssl.truststore.location',
            str(pki / 'ca.pem'), '--ssl.client.auth', 'required', '--authorizer', 'true', '--super.users',
            'User:alice', '--ssl.principal.mapping.rules', rules
        ], name=name)
        b.start()
        return b

    mapped = mtls_with_rules('RULE:^CN=nobody$/x/, RULE:^.*CN=([^,]*).*$/$1/L, DEFAULT', 'mapped')
    round_trip(client_conf(mapped, pki, 'EXTERNAL', cert='client'))
    strict = mtls_with_rules('RULE:^CN=([^,]*),OU=ops.*$/$1/', 'strict')
    expect_auth_failure(client_conf(strict, pki, 'EXTERNAL', cert='client'),
                        {KafkaError._SSL, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN})
    kafka_helpers.wait_for(lambda: 'no ssl.principal.mapping.rules rule applies' in
                           strict.log_path.read_text(errors='replace'), 10, 'the refusal in the broker log')


def test_per_listener_tls_settings(broker_factory, pki):
    """listener.name.<name>.ssl.*: INTERNAL uses the ssl.* settings (the first CA's certificate, no client
    certificate); EXTERNAL has its own keystore (a certificate of the other CA), truststore and required client
    certificates, set by flags and one by the environment."""
    b = broker_factory([
        '--listeners', 'INTERNAL://127.0.0.1:0,EXTERNAL://127.0.0.1:0', '--listener.security.protocol.map',
        'INTERNAL:SSL,EXTERNAL:SSL', '--ssl.keystore.location', str(pki / 'server-keystore.pem'),
        '--listener.name.external.ssl.keystore.location', str(pki / 'external-keystore.pem'),
        '--listener.name.external.ssl.truststore.location=' + str(pki / 'ca.pem')
    ], name='per-listener', env={'KAFSCALE_LISTENER_NAME_EXTERNAL_SSL_CLIENT_AUTH': 'required'})
    b.start()
    assert server_subject(b.listeners['INTERNAL'], pki / 'ca.pem') == 'localhost'
    internal = {'bootstrap.servers': b.listeners['INTERNAL'], 'security.protocol': 'SSL',
                'ssl.ca.location': str(pki / 'ca.pem'), 'log_level': 3}
    round_trip(internal)
    external = {'bootstrap.servers': b.listeners['EXTERNAL'], 'security.protocol': 'SSL',
                'ssl.ca.location': str(pki / 'rogue-ca.pem'), 'log_level': 3,
                'ssl.certificate.location': str(pki / 'client.pem'), 'ssl.key.location': str(pki / 'client.key')}
    round_trip(external)
    codes = {KafkaError._SSL, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN}
    # EXTERNAL requires a client certificate; its server certificate is not the first CA's.
    no_cert = {k: v for k, v in external.items() if k not in ('ssl.certificate.location', 'ssl.key.location')}
    expect_auth_failure(no_cert, codes)
    expect_auth_failure({**external, 'ssl.ca.location': str(pki / 'ca.pem')}, codes)
    assert b.alive
    assert AdminClient(internal).list_topics(timeout=TIMEOUT_S).brokers


@pytest.mark.parametrize('cert', [None, 'rogue'])
def test_mtls_refuses_missing_or_untrusted_client_certificate(mtls_broker, pki, cert):
    conf = client_conf(mtls_broker, pki, 'EXTERNAL', cert=cert)
    expect_auth_failure(conf, {KafkaError._SSL, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN})
    check_healthy(mtls_broker, pki)


def test_client_refuses_untrusted_server_certificate(open_broker, pki):
    conf = client_conf(open_broker, pki, 'SSL', cert=None)
    conf['ssl.ca.location'] = str(pki / 'rogue-ca.pem')
    expect_auth_failure(conf, {KafkaError._SSL, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN})
    check_healthy(open_broker, pki)


def test_kafka_python_wrong_password(open_broker, pki):
    from kafka import KafkaProducer
    from kafka.errors import KafkaError as KPError
    with pytest.raises(KPError):
        KafkaProducer(bootstrap_servers=open_broker.listeners['SASL_PLAINTEXT'], security_protocol='SASL_PLAINTEXT',
                      sasl_mechanism='SCRAM-SHA-256', sasl_plain_username='alice', sasl_plain_password='wrong',
                      max_block_ms=5000, request_timeout_ms=5000, api_version_auto_timeout_ms=5000)
    check_healthy(open_broker, pki)


# ---- before authentication (raw requests)


def frame(api_key, version, body=b'', correlation_id=1):
    header = struct.pack('>hhih', api_key, version, correlation_id, -1)  # client id null
    payload = header + body
    return struct.pack('>i', len(payload)) + payload


def closed_by_peer(sock, timeout=10):
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def sasl_socket(broker):
    host, port = broker.listeners['SASL_PLAINTEXT'].rsplit(':', 1)
    return socket.create_connection((host, int(port)), timeout=10)


def test_only_handshake_apis_before_authentication(open_broker, pki):
    with sasl_socket(open_broker) as s:
        s.sendall(frame(3, 0, struct.pack('>i', 0)))  # Metadata v0, all topics
        assert closed_by_peer(s)
    # ApiVersions is answered, and lists SaslHandshake 0-1 and SaslAuthenticate 0-2.
    with sasl_socket(open_broker) as s:
        s.sendall(frame(18, 0))
        s.settimeout(10)
        size = struct.unpack('>i', s.recv(4, socket.MSG_WAITALL))[0]
        body = s.recv(size, socket.MSG_WAITALL)
        corr, err, n = struct.unpack('>ihi', body[:10])
        assert (corr, err) == (1, 0)
        ranges = {struct.unpack('>hhh', body[10 + 6 * i:16 + 6 * i])[0]: struct.unpack('>hhh', body[10 + 6 * i:16 +
                                                                                                   6 * i])[1:]
                  for i in range(n)}
        assert ranges[17] == (0, 1)
        assert ranges[36] == (0, 2)
    check_healthy(open_broker, pki)


def test_oversized_request_before_authentication_closes(open_broker, pki):
    with sasl_socket(open_broker) as s:
        s.sendall(struct.pack('>i', 1 << 20))  # over sasl.server.max.receive.size (512 KiB)
        assert closed_by_peer(s)
    check_healthy(open_broker, pki)


def test_authentication_timeout_closes(open_broker, pki):
    with sasl_socket(open_broker) as s:
        start = time.monotonic()
        assert closed_by_peer(s, timeout=15)
        assert time.monotonic() - start < 12
    # A TLS client that never says hello is closed too.
    host, port = open_broker.listeners['SSL'].rsplit(':', 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        assert closed_by_peer(s, timeout=15)
    check_healthy(open_broker, pki)


# ---- the user command


def test_user_command(broker_factory, tmp_path):
    meta = f'embedded://{tmp_path}/meta'
    pw = tmp_path / 'pw'
    pw.write_text('s3cret\n')
    add = [BROKER_BIN, 'user', 'add', 'carol', '--password-file', str(pw), '--metadata', meta]
    assert run(add).returncode == 0
    again = run(add, check=False)
    assert again.returncode == 3 and b'already has' in again.stderr
    assert run(add[:3] + ['--mechanism', 'SCRAM-SHA-512'] + add[3:]).returncode == 0
    out = run([BROKER_BIN, 'user', 'list', '--metadata', meta]).stdout.decode()
    assert out.split('\n')[0] == 'carol SCRAM-SHA-256 SCRAM-SHA-512'
    assert 's3cret' not in out
    # The password never comes from the command line.
    assert run([BROKER_BIN, 'user', 'add', 'dave', '--password', 'x', '--metadata', meta],
               check=False).returncode == 2
    assert run([BROKER_BIN, 'user', 'delete', 'carol', '--metadata', meta]).returncode == 0
    assert run([BROKER_BIN, 'user', 'list', '--metadata', meta]).stdout.decode().strip() == ''
    assert run([BROKER_BIN, 'user', 'delete', 'carol', '--metadata', meta], check=False).returncode == 3


# ---- certificate reload


def server_subject(addr, ca):
    import ssl
    host, port = addr.rsplit(':', 1)
    ctx = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname='127.0.0.1') as s:
            return dict(x[0] for x in s.getpeercert()['subject'])['commonName']


def test_certificate_reload_keeps_connections(broker_factory, pki):
    keystore = pki / 'reload-keystore.pem'
    keystore.write_text((pki / 'server-keystore.pem').read_text())
    b = broker_factory(['--listeners', 'SSL://127.0.0.1:0', '--ssl.keystore.location', str(keystore),
                        '--ssl-reload-interval-ms', '200'], name='reload')
    b.start()
    addr = b.listeners['SSL']
    assert server_subject(addr, pki / 'ca.pem') == 'localhost'
    conf = {'bootstrap.servers': addr, 'security.protocol': 'SSL', 'ssl.ca.location': str(pki / 'ca.pem'),
            'log_level': 3, 'acks': 'all', 'message.timeout.ms': TIMEOUT_S * 1000}
    p = confluent_kafka.Producer(conf)
    topic = f'reload-{uuid.uuid4().hex[:8]}'
    errors = []
    p.produce(topic, value=b'before', on_delivery=lambda err, msg: errors.append(err))
    assert p.flush(TIMEOUT_S) == 0 and errors == [None]
    # A rotated certificate (same CA and names, another subject), written as cert-manager would.
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=rotated', '-keyout', 'rotated.key', '-out',
            'rotated.csr', cwd=pki)
    (pki / 'rotated.ext').write_text('subjectAltName=IP:127.0.0.1,DNS:localhost\n')
    openssl('x509', '-req', '-in', 'rotated.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days',
            '2', '-extfile', 'rotated.ext', '-out', 'rotated.pem', cwd=pki)
    tmp = pki / 'reload-keystore.tmp'
    tmp.write_text((pki / 'rotated.pem').read_text() + (pki / 'rotated.key').read_text())
    tmp.rename(keystore)
    kafka_helpers.wait_for(lambda: server_subject(addr, pki / 'ca.pem') == 'rotated', 10,
                           'new connections to get the rotated certificate')
    # The producer's connection, made before the rotation, still works.
    p.produce(topic, value=b'after', on_delivery=lambda err, msg: errors.append(err))
    assert p.flush(TIMEOUT_S) == 0 and errors == [None, None]
    assert 'reloaded certificate' in b.log_tail()
    # A broken file keeps the previous certificate.
    keystore.write_text('not a certificate\n')
    kafka_helpers.wait_for(lambda: 'keeping the previous certificate' in b.log_tail(), 10, 'the reload error')
    assert server_subject(addr, pki / 'ca.pem') == 'rotated'
