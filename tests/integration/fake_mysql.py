"""A small MySQL 8 replication primary for tests: it serves binlog files built from real MySQL
fixture files over the real client/server protocol, so the MySQL flavor of the source (the
handshake, the queries rowcast asks, COM_BINLOG_DUMP and COM_BINLOG_DUMP_GTID, heartbeats,
rotation between files) runs against something that is not rowcast's own code. No MySQL server
is available to the tests (Debian ships MariaDB only; see README "Tests").

It is deliberately strict: a query it does not know is answered with an error and recorded in
`unknown_queries`, and every dump request is recorded in `dumps` (the GTID set decoded from the
request's bytes, independently of rowcast's encoder).

    primary = FakePrimary(user="repl", password="pw")
    primary.set_files([("binlog.000001", data1), ("binlog.000002", data2)])
    primary.start()          # primary.port
    ...
    primary.stop()

Binlog files are built from the transactions of a fixture with split_transactions() and
build_file(), which re-stamp positions and checksums the way the server writes them.
"""

import hashlib
import os
import re
import socket
import struct
import threading
import time
import uuid as uuidlib
import zlib

MAGIC = b"\xfebin"
HEADER_LEN = 19

FDE, ROTATE, QUERY, XID, STOP = 15, 4, 2, 16, 3
GTID, ANON_GTID, PREV_GTIDS, GTID_TAGGED, HEARTBEAT = 33, 34, 35, 42, 27

ARTIFICIAL = 0x20
IN_USE = 0x01

CLIENT_LONG_PASSWORD = 0x1
CLIENT_LONG_FLAG = 0x4
CLIENT_CONNECT_WITH_DB = 0x8
CLIENT_PROTOCOL_41 = 0x200
CLIENT_TRANSACTIONS = 0x2000
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_MULTI_STATEMENTS = 0x10000
CLIENT_MULTI_RESULTS = 0x20000
CLIENT_PLUGIN_AUTH = 0x80000
CLIENT_CONNECT_ATTRS = 0x100000
CLIENT_PLUGIN_AUTH_LENENC = 0x200000

SERVER_CAPS = (
    CLIENT_LONG_PASSWORD | CLIENT_LONG_FLAG | CLIENT_CONNECT_WITH_DB | CLIENT_PROTOCOL_41
    | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION | CLIENT_MULTI_STATEMENTS
    | CLIENT_MULTI_RESULTS | CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_ATTRS
)

COM_QUIT, COM_QUERY, COM_PING = 0x01, 0x03, 0x0E
COM_BINLOG_DUMP, COM_REGISTER_SLAVE, COM_BINLOG_DUMP_GTID = 0x12, 0x15, 0x1E


# --------------------------------------------------------------------------- binlog events


def parse_events(data):
    """[(offset, type, bytes)] of a binlog file's events after the magic."""
    assert data[:4] == MAGIC, "not a binlog file"
    out, p = [], 4
    while p < len(data):
        size = struct.unpack_from("<I", data, p + 9)[0]
        out.append((p, data[p + 4], data[p:p + size]))
        p += size
    return out


def restamp(ev, log_pos, clear_in_use=False, checksum=True):
    """The event with header log_pos set (and the FDE in-use flag cleared) and its CRC32
    trailer recomputed."""
    b = bytearray(ev)
    struct.pack_into("<I", b, 13, log_pos)
    if clear_in_use:
        flags = struct.unpack_from("<H", b, 17)[0] & ~IN_USE
        struct.pack_into("<H", b, 17, flags)
    if checksum:
        struct.pack_into("<I", b, len(b) - 4, zlib.crc32(bytes(b[:-4])) & 0xFFFFFFFF)
    return bytes(b)


def make_event(type_, body, server_id, log_pos, flags=0, timestamp=None):
    size = HEADER_LEN + len(body) + 4
    ts = int(time.time()) if timestamp is None else timestamp
    head = struct.pack("<IBIIIH", ts, type_, server_id, size, log_pos, flags)
    ev = head + body
    return ev + struct.pack("<I", zlib.crc32(ev) & 0xFFFFFFFF)


def gtid_of(ev):
    """"uuid:n" of a GTID event, "uuid:tag:n" of a tagged one, None otherwise."""
    t = ev[4]
    body = ev[HEADER_LEN:]
    if t == GTID:
        return f"{uuidlib.UUID(bytes=bytes(body[1:17]))}:{struct.unpack_from('<Q', body, 17)[0]}"
    if t == GTID_TAGGED:
        return _tagged_gtid(body)
    return None


def _ser_uint(b, p):
    """MySQL serialization library unsigned integer at b[p]: (value, next p)."""
    n = 1
    while n < 9 and b[p] & (1 << (n - 1)):
        n += 1
    if n == 9:
        return struct.unpack_from("<Q", b, p + 1)[0], p + 9
    return int.from_bytes(b[p:p + n], "little") >> n, p + n


def _tagged_gtid(body):
    p = 1
    size, p = _ser_uint(body, p)
    _, p = _ser_uint(body, p)
    sid, tag, gno = None, "", None
    while p < size:
        fid, p = _ser_uint(body, p)
        if fid == 1:
            raw = []
            for _ in range(16):
                v, p = _ser_uint(body, p)
                raw.append(v)
            sid = uuidlib.UUID(bytes=bytes(raw))
        elif fid == 3:
            n, p = _ser_uint(body, p)
            tag = bytes(body[p:p + n]).decode()
            p += n
        elif fid <= 11:
            v, p = _ser_uint(body, p)
            if fid == 2:
                gno = v >> 1
        else:
            break
    return f"{sid}:{tag}:{gno}" if tag else f"{sid}:{gno}"


def split_transactions(data):
    """(FDE event, [transaction as a list of events]) of a fixture file: a transaction runs
    from a GTID (or anonymous GTID) event to the event before the next one."""
    fde, txs, cur = None, [], None
    for _, t, ev in parse_events(data):
        if t == FDE:
            fde = ev
        elif t in (GTID, ANON_GTID, GTID_TAGGED):
            cur = [ev]
            txs.append(cur)
        elif t in (ROTATE, STOP, PREV_GTIDS, HEARTBEAT):
            cur = None
        elif cur is not None:
            cur.append(ev)
    return fde, txs


# --------------------------------------------------------------------------- GTID sets


class GtidSet:
    """{(uuid, tag): sorted [first, last] intervals}: enough set arithmetic for the tests."""

    def __init__(self, text=""):
        self.iv = {}
        for item in filter(None, (s.strip() for s in text.split(","))):
            parts = item.split(":")
            sid, tag = parts[0].lower(), ""
            for part in parts[1:]:
                if part and not part[0].isdigit():
                    tag = part
                    continue
                a, _, b = part.partition("-")
                self.add(sid, tag, int(a), int(b or a))

    def add(self, sid, tag, first, last):
        ivs = sorted(self.iv.get((sid, tag), []) + [[first, last]])
        merged = []
        for a, b in ivs:
            if merged and a <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        self.iv[(sid, tag)] = merged

    def add_gtid(self, gtid):
        parts = gtid.split(":")
        n = int(parts[-1])
        self.add(parts[0].lower(), parts[1] if len(parts) == 3 else "", n, n)

    def contains(self, gtid):
        parts = gtid.split(":")
        n = int(parts[-1])
        key = (parts[0].lower(), parts[1] if len(parts) == 3 else "")
        return any(a <= n <= b for a, b in self.iv.get(key, []))

    def issubset(self, other):
        return all(any(c <= a and b <= d for c, d in other.iv.get(k, []))
                   for k, ivs in self.iv.items() for a, b in ivs)

    def encode(self):
        """PREVIOUS_GTIDS / COM_BINLOG_DUMP_GTID bytes (the tagged form when a tag is used)."""
        keys = sorted(k for k, v in self.iv.items() if v)
        tagged = any(tag for _, tag in keys)
        out = bytearray(b"\x01" + len(keys).to_bytes(6, "little") + b"\x01" if tagged
                        else struct.pack("<Q", len(keys)))
        for sid, tag in keys:
            out += uuidlib.UUID(sid).bytes
            if tagged:
                out += bytes([len(tag) << 1]) + tag.encode()
            out += struct.pack("<Q", len(self.iv[(sid, tag)]))
            for a, b in self.iv[(sid, tag)]:
                out += struct.pack("<QQ", a, b + 1)
        return bytes(out)

    @classmethod
    def decode(cls, b):
        s, p = cls(), 8
        tagged = b[0] == 1 and b[7] == 1
        n = int.from_bytes(b[1:7], "little") if tagged else struct.unpack_from("<Q", b, 0)[0]
        for _ in range(n):
            sid = str(uuidlib.UUID(bytes=bytes(b[p:p + 16])))
            p += 16
            tag = ""
            if tagged:
                tl, p = _ser_uint(b, p)
                tag = bytes(b[p:p + tl]).decode()
                p += tl
            (ni,) = struct.unpack_from("<Q", b, p)
            p += 8
            for _ in range(ni):
                a, e = struct.unpack_from("<QQ", b, p)
                p += 16
                s.add(sid, tag, a, e - 1)
        return s

    def __str__(self):
        items = []
        for (sid, tag), ivs in sorted(self.iv.items()):
            if ivs:
                r = ":".join(f"{a}-{b}" if b > a else f"{a}" for a, b in ivs)
                items.append(f"{sid}:{tag}:{r}" if tag else f"{sid}:{r}")
        return ",".join(items)

    def __eq__(self, other):
        return str(self) == str(other)


def build_file(fde, previous, transactions, server_id, next_file=None):
    """A binlog file as the server writes it: magic, FDE, PREVIOUS_GTIDS (a GtidSet), the
    transactions' events with their positions re-stamped, and a ROTATE to next_file."""
    out = bytearray(MAGIC)
    out += restamp(fde, 4 + len(fde))
    body = previous.encode()
    out += make_event(PREV_GTIDS, body, server_id, len(out) + HEADER_LEN + len(body) + 4,
                      flags=0x80)
    for tx in transactions:
        for ev in tx:
            out += restamp(ev, len(out) + len(ev))
    if next_file:
        body = struct.pack("<Q", 4) + next_file.encode()
        out += make_event(ROTATE, body, server_id, len(out) + HEADER_LEN + len(body) + 4)
    return bytes(out)


# --------------------------------------------------------------------------- the server


def _lenenc_int(n):
    if n < 251:
        return bytes([n])
    if n < 1 << 16:
        return b"\xfc" + struct.pack("<H", n)
    if n < 1 << 24:
        return b"\xfd" + struct.pack("<I", n)[:3]
    return b"\xfe" + struct.pack("<Q", n)


def _lenenc_str(s):
    b = s if isinstance(s, bytes) else str(s).encode()
    return _lenenc_int(len(b)) + b


class _Conn:
    def __init__(self, sock):
        self.sock = sock
        self.seq = 0

    def read_packet(self):
        head = self._read(4)
        if head is None:
            return None
        n = head[0] | head[1] << 8 | head[2] << 16
        self.seq = (head[3] + 1) & 0xFF
        return self._read(n) if n else b""

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def send(self, payload):
        while True:  # packets of 16 MiB - 1 and more are split
            part, payload = payload[:0xFFFFFF], payload[0xFFFFFF:]
            self.sock.sendall(struct.pack("<I", len(part))[:3] + bytes([self.seq]) + part)
            self.seq = (self.seq + 1) & 0xFF
            if len(part) < 0xFFFFFF:
                return

    def ok(self):
        self.send(b"\x00\x00\x00\x02\x00\x00\x00")

    def err(self, code, state, msg):
        self.send(b"\xff" + struct.pack("<H", code) + b"#" + state.encode() + msg.encode())

    def eof(self):
        self.send(b"\xfe\x00\x00\x02\x00")

    def result(self, columns, rows):
        self.send(_lenenc_int(len(columns)))
        for c in columns:
            self.send(
                _lenenc_str("def") + _lenenc_str("") + _lenenc_str("") + _lenenc_str("")
                + _lenenc_str(c) + _lenenc_str(c) + b"\x0c" + struct.pack("<H", 33)
                + struct.pack("<I", 1024) + b"\xfd" + struct.pack("<H", 0) + b"\x1f\x00\x00"
            )
        self.eof()
        for r in rows:
            self.send(b"".join(b"\xfb" if v is None else _lenenc_str(v) for v in r))
        self.eof()


class FakePrimary:
    def __init__(self, user="repl", password="repl", server_id=1,
                 server_uuid="3e11fa47-71ca-11e1-9e33-c80aa9429562", version="8.4.3"):
        self.user, self.password = user, password
        self.server_id, self.server_uuid, self.version = server_id, server_uuid, version
        self.gtid_purged = ""
        self.columns = {}  # (schema, table): [column names] for information_schema.COLUMNS
        self.keys = {}  # (schema, table): [primary-key columns] for information_schema.STATISTICS
        self.unknown_queries = []
        self.dumps = []  # {"command": "COM_BINLOG_DUMP[_GTID]", "file", "pos", "gtid_set"}
        self.logins = []  # (user, ok)
        self._files = []
        self._lock = threading.Condition()
        self._stop = False
        self._threads = []
        self._clients = set()
        self._sock = None
        self.port = None

    # ---- what it serves

    def set_files(self, files):
        """[(name, bytes)]; files may only grow or be added (as on a real server)."""
        with self._lock:
            self._files = list(files)
            self._lock.notify_all()

    def files(self):
        with self._lock:
            return list(self._files)

    def gtid_executed(self):
        s = GtidSet(self.gtid_purged)
        for _, data in self.files():
            for _, t, ev in parse_events(data):
                g = gtid_of(ev)
                if g:
                    s.add_gtid(g)
                elif t == PREV_GTIDS:
                    for k, ivs in GtidSet.decode(ev[HEADER_LEN:-4]).iv.items():
                        for a, b in ivs:
                            s.add(k[0], k[1], a, b)
        return s

    # ---- lifecycle

    def start(self):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def stop(self):
        with self._lock:
            self._stop = True
            self._lock.notify_all()
        for t in self._threads:
            t.join(5)
        self._sock.close()

    def _accept(self):
        while not self._stop:
            try:
                s, _ = self._sock.accept()
            except socket.timeout:
                continue
            t = threading.Thread(target=self._serve, args=(s,), daemon=True)
            t.start()
            self._threads.append(t)

    # ---- one client

    def kick(self):
        """Drops every client connection, as a restarting server does."""
        with self._lock:
            clients = list(self._clients)
        for s in clients:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _serve(self, sock):
        c = _Conn(sock)
        with self._lock:
            self._clients.add(sock)
        try:
            if self._handshake(c):
                self._commands(c)
        except (OSError, struct.error):
            pass
        finally:
            with self._lock:
                self._clients.discard(sock)
            sock.close()

    def _handshake(self, c):
        scramble = os.urandom(20).replace(b"\x00", b"\x01")
        c.seq = 0
        c.send(
            b"\x0a" + self.version.encode() + b"\x00" + struct.pack("<I", 7) + scramble[:8]
            + b"\x00" + struct.pack("<H", SERVER_CAPS & 0xFFFF) + bytes([255])
            + struct.pack("<H", 2) + struct.pack("<H", SERVER_CAPS >> 16) + bytes([21])
            + b"\x00" * 10 + scramble[8:] + b"\x00" + b"mysql_native_password\x00"
        )
        pkt = c.read_packet()
        if pkt is None:
            return False
        caps = struct.unpack_from("<I", pkt, 0)[0]
        p = 32
        end = pkt.index(b"\x00", p)
        user = pkt[p:end].decode()
        p = end + 1
        n = pkt[p]  # CLIENT_PLUGIN_AUTH_LENENC is not offered: a one-byte length
        p += 1
        auth = pkt[p:p + n]
        want = b""
        if self.password:
            h1 = hashlib.sha1(self.password.encode()).digest()
            h2 = hashlib.sha1(scramble + hashlib.sha1(h1).digest()).digest()
            want = bytes(a ^ b for a, b in zip(h1, h2))
        ok = user == self.user and auth == want
        self.logins.append((user, ok))
        if not ok:
            c.err(1045, "28000", f"Access denied for user '{user}'@'127.0.0.1' (using password: "
                                 f"{'YES' if auth else 'NO'})")
            return False
        c.ok()
        return True

    def _commands(self, c):
        self.heartbeat_ns = 0
        while not self._stop:
            pkt = c.read_packet()
            if pkt is None or not pkt or pkt[0] == COM_QUIT:
                return
            cmd, body = pkt[0], pkt[1:]
            if cmd == COM_QUERY:
                self._query(c, body.decode(errors="replace"))
            elif cmd in (COM_PING, COM_REGISTER_SLAVE):
                c.ok()
            elif cmd == COM_BINLOG_DUMP:
                pos, flags, _sid = struct.unpack_from("<IHI", body, 0)
                name = body[10:].decode()
                self.dumps.append({"command": "COM_BINLOG_DUMP", "file": name, "pos": pos,
                                   "gtid_set": None})
                self._dump(c, name, pos, None, non_block=bool(flags & 1))
                return
            elif cmd == COM_BINLOG_DUMP_GTID:
                flags, _sid, nlen = struct.unpack_from("<HII", body, 0)
                name = body[10:10 + nlen].decode()
                (pos,) = struct.unpack_from("<Q", body, 10 + nlen)
                p = 18 + nlen
                gset = GtidSet()
                if flags & 0x04:
                    (dlen,) = struct.unpack_from("<I", body, p)
                    gset = GtidSet.decode(body[p + 4:p + 4 + dlen])
                self.dumps.append({"command": "COM_BINLOG_DUMP_GTID", "file": name, "pos": pos,
                                   "gtid_set": str(gset)})
                self._dump(c, name, pos, gset, non_block=bool(flags & 1))
                return
            else:
                c.err(1047, "08S01", f"unknown command {cmd}")

    def _query(self, c, q):
        ql = " ".join(q.split()).rstrip(";")
        low = ql.lower()
        variables = {
            "binlog_format": "ROW", "binlog_row_metadata": "FULL", "binlog_checksum": "CRC32",
            "server_id": str(self.server_id), "server_uuid": self.server_uuid,
            "gtid_mode": "ON", "gtid_purged": self.gtid_purged,
            "gtid_executed": None, "version": self.version,
        }
        if low.startswith("set "):
            for part in low[4:].split(","):
                k, _, v = part.partition("=")
                if k.strip() in ("@master_heartbeat_period", "@source_heartbeat_period"):
                    self.heartbeat_ns = int(v.strip())
            c.ok()
        elif low.startswith("select @@global.") or low.startswith("select @@"):
            name = low.split("@@", 1)[1].removeprefix("global.")
            if name not in variables:
                self._unknown(c, ql)
                return
            v = str(self.gtid_executed()) if name == "gtid_executed" else variables[name]
            c.result([ql[7:]], [[v]])
        elif low == "show binary logs":
            c.result(["Log_name", "File_size", "Encrypted"],
                     [[n, str(len(d)), "No"] for n, d in self.files()])
        elif low == "show binary log status" or (low == "show master status"
                                                 and not self.version.startswith("8.4")):
            name, data = self.files()[-1]
            c.result(["File", "Position", "Binlog_Do_DB", "Binlog_Ignore_DB",
                      "Executed_Gtid_Set"], [[name, str(len(data)), "", "",
                                              str(self.gtid_executed())]])
        elif m := re.fullmatch(r"select column_name from information_schema\.columns where "
                               r"table_schema = '([^']*)' and table_name = '([^']*)' order by "
                               r"ordinal_position", low):
            c.result(["COLUMN_NAME"], [[n] for n in self.columns.get(m.groups(), [])])
        elif m := re.fullmatch(r"select column_name from information_schema\.statistics where "
                               r"table_schema = '([^']*)' and table_name = '([^']*)' and "
                               r"index_name = 'primary' order by seq_in_index", low):
            c.result(["COLUMN_NAME"], [[n] for n in self.keys.get(m.groups(), [])])
        elif low == "show master status":  # removed in 8.4
            c.err(1064, "42000", "You have an error in your SQL syntax; check the manual that "
                                 "corresponds to your MySQL server version for the right syntax "
                                 "to use near 'MASTER STATUS' at line 1")
        else:
            self._unknown(c, ql)

    def _unknown(self, c, q):
        self.unknown_queries.append(q)
        c.err(1064, "42000", f"the fake primary does not know this query: {q}")

    # ---- the binlog stream

    def _send_event(self, c, ev):
        c.send(b"\x00" + ev)

    def _dump(self, c, name, pos, gset, non_block):
        files = self.files()
        names = [n for n, _ in files]
        if gset is not None:
            # the newest file whose PREVIOUS_GTIDS the client has completely
            idx = 0
            for i, (_, data) in enumerate(files):
                prev = next((GtidSet.decode(ev[HEADER_LEN:-4]) for _, t, ev in parse_events(data)
                             if t == PREV_GTIDS), GtidSet())
                if prev.issubset(gset):
                    idx = i
            name, pos = names[idx], 4
            skip_set = gset
        else:
            if name == "":
                name = names[0]
            if name not in names:
                c.err(1236, "HY000", "Could not find first log file name in binary log index file")
                return
            idx = names.index(name)
            skip_set = None
        self._send_event(c, make_event(ROTATE, struct.pack("<Q", pos) + name.encode(),
                                       self.server_id, 0, flags=ARTIFICIAL, timestamp=0))
        skipping, first = False, True
        while not self._stop:
            files = self.files()
            name, data = files[idx]
            events = parse_events(data)
            if first and pos > 4 and events[0][1] == FDE:  # the format first, at no position
                self._send_event(c, restamp(events[0][2], 0, clear_in_use=True))
            first = False
            for off, t, ev in events:
                if off < pos:
                    continue
                if t == FDE:
                    ev = restamp(ev, struct.unpack_from("<I", ev, 13)[0], clear_in_use=True)
                if skip_set is not None:
                    g = gtid_of(ev)
                    if t in (GTID, GTID_TAGGED, ANON_GTID):
                        skipping = g is not None and skip_set.contains(g)
                    elif t in (ROTATE, PREV_GTIDS, FDE, STOP):
                        skipping = False
                    if skipping:
                        continue
                self._send_event(c, ev)
            pos = len(data)
            if events and events[-1][1] == ROTATE and idx + 1 < len(files):
                idx, pos = idx + 1, 4
                continue
            if non_block:
                c.eof()
                return
            # wait for the file to grow or a new file; heartbeat meanwhile
            period = (self.heartbeat_ns or 1_000_000_000) / 1e9
            with self._lock:
                self._lock.wait_for(lambda: self._stop or len(self._files[idx][1]) > pos,
                                    timeout=period)
                grown = len(self._files[idx][1]) > pos
            if not grown and not self._stop:
                body = name.encode()
                self._send_event(c, make_event(HEARTBEAT, body, self.server_id, pos,
                                               flags=ARTIFICIAL, timestamp=0))
