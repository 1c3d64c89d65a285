#!/usr/bin/env python3
"""Stands in for systemd's notify socket: binds a unix datagram socket at
argv[1] and appends every message it receives to argv[2], one field a line
(READY=1, STATUS=..., WATCHDOG=1, STOPPING=1), until killed."""
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)
with open(out, "a", buffering=1) as log:
    while True:
        data = sock.recv(4096).decode("utf-8", "replace")
        for field in data.split("\n"):
            if field:
                log.write(field + "\n")
