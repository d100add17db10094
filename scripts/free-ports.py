"""Prints N distinct free loopback ports (each bound to port 0, all released at exit).

Used by the scripts that start test services (etcd-test.sh, etcd-cluster-test.sh, swift-test.sh).
"""
import socket
import sys

socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
