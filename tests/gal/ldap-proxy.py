#!/usr/bin/env python3
"""tests/gal/ldap-proxy.py PORTFILE SERVER_PORT COUNTFILE [KILL_AT PIDFILE]:
a TCP proxy on 127.0.0.1 (its port written to PORTFILE) in front of the
slapd on SERVER_PORT, for t78. It counts the requests that carry the
paged results control (RFC 2696, OID 1.2.840.113556.1.4.319) into
COUNTFILE; with KILL_AT, when the client asks for page KILL_AT it kills
the slapd of PIDFILE (SIGKILL) and drops the connection: a server that
dies in the middle of a sync, at a known page. With KILL_AT "stall:N"
instead (no PIDFILE), from page N on it passes nothing more either way
and keeps the connection open: a server that stops answering mid-sync.
With "stall:search", the same from the first search request on (paged or
not; LDAP's protocolOp [APPLICATION 3]): a server that binds, then never
answers (t79)."""
import os, select, signal, socket, sys

OID = b"1.2.840.113556.1.4.319"
port_file, server_port, count_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
kill_at = sys.argv[4] if len(sys.argv) > 4 else "0"
stall_search = kill_at == "stall:search"
stall_at = int(kill_at[6:]) if kill_at.startswith("stall:") and not stall_search else 0
kill_at = 0 if stall_at or stall_search else int(kill_at)
pid_file = sys.argv[5] if len(sys.argv) > 5 else None

ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0))
ls.listen(4)
with open(port_file + ".tmp", "w") as f:
    f.write(str(ls.getsockname()[1]))
os.rename(port_file + ".tmp", port_file)
pages = 0


def is_search(data):
    # LDAPMessage: SEQUENCE { messageID INTEGER, protocolOp ... }
    try:
        i = 2 + (data[1] & 0x7F if data[1] & 0x80 else 0)
        i += 2 + data[i + 1]
        return data[0] == 0x30 and data[i] == 0x63
    except IndexError:
        return False


while True:
    c, _ = ls.accept()
    s = socket.create_connection(("127.0.0.1", server_port))
    open_ = True
    stalled = False
    while open_:
        r, _, _ = select.select([c, s], [], [], 30)
        if not r:
            break
        for sock in r:
            data = sock.recv(65536)
            if not data:
                open_ = False
                break
            if stalled:
                continue
            if sock is c:
                pages += data.count(OID)
                with open(count_file, "w") as f:
                    f.write(str(pages))
                if kill_at and pages >= kill_at:
                    with open(pid_file) as f:
                        os.kill(int(f.read().strip()), signal.SIGKILL)
                    open_ = False
                    break
                if (stall_at and pages >= stall_at) or (stall_search and is_search(data)):
                    stalled = True
                    continue
                s.sendall(data)
            else:
                c.sendall(data)
    c.close()
    s.close()
