"""A small MQTT 3.1.1 / 5.0 codec, written to the OASIS specifications.

Only the packets AWS IoT Core speaks are decoded into objects (CONNECT, CONNACK,
PUBLISH, PUBACK, SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP,
DISCONNECT); QoS 2 flow packets (PUBREC/PUBREL/PUBCOMP) and AUTH are recognised and
reported as unsupported so the broker can close the connection with a reason.

`StreamDecoder` is fed raw bytes (a TCP stream or the concatenated binary WebSocket
messages: MQTT over WebSockets may split or join packets across messages) and yields
whole packets. Every malformed input raises `ProtocolError`, never anything else.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

# Packet types (MQTT 3.1.1 section 2.2.1 / MQTT 5 section 2.1.2)
CONNECT = 1
CONNACK = 2
PUBLISH = 3
PUBACK = 4
PUBREC = 5
PUBREL = 6
PUBCOMP = 7
SUBSCRIBE = 8
SUBACK = 9
UNSUBSCRIBE = 10
UNSUBACK = 11
PINGREQ = 12
PINGRESP = 13
DISCONNECT = 14
AUTH = 15

MAX_REMAINING_LENGTH = 268_435_455  # 4-byte variable byte integer (MQTT 5 section 1.5.5)


class ProtocolError(Exception):
    """Malformed or unsupported input; `reason` is an MQTT 5 reason code."""

    def __init__(self, message: str, reason: int = 0x81) -> None:
        super().__init__(message)
        self.reason = reason


class PacketTooLarge(ProtocolError):
    def __init__(self, message: str) -> None:
        super().__init__(message, reason=0x95)


class Prop(IntEnum):
    """MQTT 5 property identifiers (section 2.2.2.2)."""

    PAYLOAD_FORMAT_INDICATOR = 0x01
    MESSAGE_EXPIRY_INTERVAL = 0x02
    CONTENT_TYPE = 0x03
    RESPONSE_TOPIC = 0x08
    CORRELATION_DATA = 0x09
    SUBSCRIPTION_IDENTIFIER = 0x0B
    SESSION_EXPIRY_INTERVAL = 0x11
    ASSIGNED_CLIENT_IDENTIFIER = 0x12
    SERVER_KEEP_ALIVE = 0x13
    AUTHENTICATION_METHOD = 0x15
    AUTHENTICATION_DATA = 0x16
    REQUEST_PROBLEM_INFORMATION = 0x17
    WILL_DELAY_INTERVAL = 0x18
    REQUEST_RESPONSE_INFORMATION = 0x19
    RESPONSE_INFORMATION = 0x1A
    SERVER_REFERENCE = 0x1C
    REASON_STRING = 0x1F
    RECEIVE_MAXIMUM = 0x21
    TOPIC_ALIAS_MAXIMUM = 0x22
    TOPIC_ALIAS = 0x23
    MAXIMUM_QOS = 0x24
    RETAIN_AVAILABLE = 0x25
    USER_PROPERTY = 0x26
    MAXIMUM_PACKET_SIZE = 0x27
    WILDCARD_SUBSCRIPTION_AVAILABLE = 0x28
    SUBSCRIPTION_IDENTIFIER_AVAILABLE = 0x29
    SHARED_SUBSCRIPTION_AVAILABLE = 0x2A


# property id -> wire type: b byte, h two-byte int, i four-byte int, v varint,
# s UTF-8 string, d binary data, p string pair
_PROP_TYPES: dict[int, str] = {
    0x01: "b",
    0x02: "i",
    0x03: "s",
    0x08: "s",
    0x09: "d",
    0x0B: "v",
    0x11: "i",
    0x12: "s",
    0x13: "h",
    0x15: "s",
    0x16: "d",
    0x17: "b",
    0x18: "i",
    0x19: "b",
    0x1A: "s",
    0x1C: "s",
    0x1F: "s",
    0x21: "h",
    0x22: "h",
    0x23: "h",
    0x24: "b",
    0x25: "b",
    0x26: "p",
    0x27: "i",
    0x28: "b",
    0x29: "b",
    0x2A: "b",
}

# Properties forwarded with an application message (MQTT 5 section 3.3.2.3).
MESSAGE_PROPS = (
    Prop.PAYLOAD_FORMAT_INDICATOR,
    Prop.MESSAGE_EXPIRY_INTERVAL,
    Prop.CONTENT_TYPE,
    Prop.RESPONSE_TOPIC,
    Prop.CORRELATION_DATA,
)


@dataclass
class Properties:
    """MQTT 5 properties: single-valued ones in `values`, user properties in order."""

    values: dict[int, Any] = field(default_factory=dict)
    user: list[tuple[str, str]] = field(default_factory=list)

    def get(self, prop: int, default: Any = None) -> Any:
        return self.values.get(prop, default)

    def __bool__(self) -> bool:
        return bool(self.values or self.user)


@dataclass
class Will:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: Properties = field(default_factory=Properties)


@dataclass
class Connect:
    protocol_name: str
    level: int  # 4 = MQTT 3.1.1, 5 = MQTT 5
    clean_start: bool
    keep_alive: int
    client_id: str
    username: str | None = None
    password: bytes | None = None
    will: Will | None = None
    properties: Properties = field(default_factory=Properties)


@dataclass
class Connack:
    session_present: bool
    code: int
    properties: Properties = field(default_factory=Properties)


@dataclass
class Publish:
    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    dup: bool = False
    packet_id: int | None = None
    properties: Properties = field(default_factory=Properties)


@dataclass
class Puback:
    packet_id: int
    reason: int = 0
    properties: Properties = field(default_factory=Properties)


@dataclass
class SubscriptionRequest:
    topic_filter: str
    qos: int
    no_local: bool = False
    retain_as_published: bool = False
    retain_handling: int = 0


@dataclass
class Subscribe:
    packet_id: int
    requests: list[SubscriptionRequest]
    properties: Properties = field(default_factory=Properties)


@dataclass
class Suback:
    packet_id: int
    codes: list[int]
    properties: Properties = field(default_factory=Properties)


@dataclass
class Unsubscribe:
    packet_id: int
    filters: list[str]
    properties: Properties = field(default_factory=Properties)


@dataclass
class Unsuback:
    packet_id: int
    codes: list[int] = field(default_factory=list)
    properties: Properties = field(default_factory=Properties)


@dataclass
class Pingreq:
    pass


@dataclass
class Pingresp:
    pass


@dataclass
class Disconnect:
    reason: int = 0
    properties: Properties = field(default_factory=Properties)


@dataclass
class Unsupported:
    """A packet type the IoT broker does not accept (QoS 2 flow, AUTH)."""

    packet_type: int


Packet = (
    Connect
    | Connack
    | Publish
    | Puback
    | Subscribe
    | Suback
    | Unsubscribe
    | Unsuback
    | Pingreq
    | Pingresp
    | Disconnect
    | Unsupported
)


# --------------------------------------------------------------------------- primitives


def encode_varint(n: int) -> bytes:
    if n < 0 or n > MAX_REMAINING_LENGTH:
        raise ValueError(f"variable byte integer out of range: {n}")
    out = bytearray()
    while True:
        byte = n % 128
        n //= 128
        if n:
            byte |= 0x80
        out.append(byte)
        if not n:
            return bytes(out)


def encode_utf8(s: str) -> bytes:
    """An MQTT UTF-8 string: two-byte length, then the bytes."""
    return _utf8(s)


def _utf8(s: str) -> bytes:
    raw = s.encode("utf-8")
    if len(raw) > 65535:
        raise ValueError("string longer than 65,535 bytes")
    return struct.pack("!H", len(raw)) + raw


def _binary(b: bytes) -> bytes:
    if len(b) > 65535:
        raise ValueError("binary data longer than 65,535 bytes")
    return struct.pack("!H", len(b)) + b


class _Reader:
    """Reads the variable header and payload of one packet; overruns raise ProtocolError."""

    __slots__ = ("buf", "pos", "end")

    def __init__(self, buf: bytes | memoryview, pos: int = 0, end: int | None = None) -> None:
        self.buf = buf
        self.pos = pos
        self.end = len(buf) if end is None else end

    def remaining(self) -> int:
        return self.end - self.pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise ProtocolError("packet truncated", 0x81)
        out = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return out

    def u8(self) -> int:
        if self.pos >= self.end:
            raise ProtocolError("packet truncated", 0x81)
        v = self.buf[self.pos]
        self.pos += 1
        return int(v)

    def u16(self) -> int:
        hi = self.u8()
        return (hi << 8) | self.u8()

    def u32(self) -> int:
        return int(struct.unpack("!I", self.take(4))[0])

    def varint(self) -> int:
        mult = 1
        value = 0
        for _ in range(4):
            b = self.u8()
            value += (b & 0x7F) * mult
            if not b & 0x80:
                return value
            mult *= 128
        raise ProtocolError("malformed variable byte integer", 0x81)

    def string(self) -> str:
        raw = self.take(self.u16())
        try:
            s = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError("string is not valid UTF-8", 0x81) from exc
        # MQTT 3.1.1 section 1.5.3 / MQTT 5 section 1.5.4: no U+0000
        if "\x00" in s:
            raise ProtocolError("string contains U+0000", 0x81)
        return s

    def binary(self) -> bytes:
        return self.take(self.u16())

    def properties(self) -> Properties:
        length = self.varint()
        if length > self.remaining():
            raise ProtocolError("properties overrun the packet", 0x81)
        end = self.pos + length
        props = Properties()
        while self.pos < end:
            pid = self.varint()
            kind = _PROP_TYPES.get(pid)
            if kind is None:
                raise ProtocolError(f"unknown property 0x{pid:02x}", 0x81)
            value: Any
            if kind == "b":
                value = self.u8()
            elif kind == "h":
                value = self.u16()
            elif kind == "i":
                value = self.u32()
            elif kind == "v":
                value = self.varint()
            elif kind == "s":
                value = self.string()
            elif kind == "d":
                value = self.binary()
            else:
                props.user.append((self.string(), self.string()))
                continue
            if pid in props.values and pid != Prop.SUBSCRIPTION_IDENTIFIER:
                raise ProtocolError(f"property 0x{pid:02x} included twice", 0x82)
            props.values[pid] = value
        if self.pos != end:
            raise ProtocolError("properties overrun their length", 0x81)
        return props


def encode_properties(props: Properties | None) -> bytes:
    if not props:
        return b"\x00"
    body = bytearray()
    for pid, value in props.values.items():
        kind = _PROP_TYPES[pid]
        body += encode_varint(pid)
        if kind == "b":
            body.append(value)
        elif kind == "h":
            body += struct.pack("!H", value)
        elif kind == "i":
            body += struct.pack("!I", value)
        elif kind == "v":
            body += encode_varint(value)
        elif kind == "s":
            body += _utf8(value)
        elif kind == "d":
            body += _binary(value)
    for k, v in props.user:
        body += encode_varint(Prop.USER_PROPERTY) + _utf8(k) + _utf8(v)
    return encode_varint(len(body)) + bytes(body)


def _frame(first_byte: int, body: bytes) -> bytes:
    return bytes([first_byte]) + encode_varint(len(body)) + body


# --------------------------------------------------------------------------- encoders


def encode(packet: Packet, level: int = 4) -> bytes:
    """Serialise `packet` for a client speaking protocol `level` (4 or 5)."""
    v5 = level == 5
    if isinstance(packet, Publish):
        first = (PUBLISH << 4) | (packet.qos << 1) | (0x08 if packet.dup else 0)
        first |= 0x01 if packet.retain else 0
        head = _utf8(packet.topic)
        if packet.qos > 0:
            if packet.packet_id is None:
                raise ValueError("QoS > 0 PUBLISH needs a packet id")
            head += struct.pack("!H", packet.packet_id)
        if v5:
            head += encode_properties(packet.properties)
        return _frame(first, head + packet.payload)
    if isinstance(packet, Puback):
        body = struct.pack("!H", packet.packet_id)
        if v5 and (packet.reason or packet.properties):
            body += bytes([packet.reason])
            if packet.properties:
                body += encode_properties(packet.properties)
        return _frame(PUBACK << 4, body)
    if isinstance(packet, Connack):
        body = bytes([1 if packet.session_present else 0, packet.code])
        if v5:
            body += encode_properties(packet.properties)
        return _frame(CONNACK << 4, body)
    if isinstance(packet, Suback):
        body = struct.pack("!H", packet.packet_id)
        if v5:
            body += encode_properties(packet.properties)
        return _frame(SUBACK << 4, body + bytes(packet.codes))
    if isinstance(packet, Unsuback):
        body = struct.pack("!H", packet.packet_id)
        if v5:
            body += encode_properties(packet.properties) + bytes(packet.codes)
        return _frame(UNSUBACK << 4, body)
    if isinstance(packet, Pingresp):
        return b"\xd0\x00"
    if isinstance(packet, Pingreq):
        return b"\xc0\x00"
    if isinstance(packet, Disconnect):
        if not v5:
            return b"\xe0\x00"
        if not packet.reason and not packet.properties:
            return b"\xe0\x00"
        return _frame(
            DISCONNECT << 4, bytes([packet.reason]) + encode_properties(packet.properties)
        )
    if isinstance(packet, Connect):
        return _encode_connect(packet)
    if isinstance(packet, Subscribe):
        body = struct.pack("!H", packet.packet_id)
        if v5:
            body += encode_properties(packet.properties)
        for r in packet.requests:
            opts = r.qos
            if v5:
                opts |= (0x04 if r.no_local else 0) | (0x08 if r.retain_as_published else 0)
                opts |= r.retain_handling << 4
            body += _utf8(r.topic_filter) + bytes([opts])
        return _frame((SUBSCRIBE << 4) | 0x02, body)
    if isinstance(packet, Unsubscribe):
        body = struct.pack("!H", packet.packet_id)
        if v5:
            body += encode_properties(packet.properties)
        for f in packet.filters:
            body += _utf8(f)
        return _frame((UNSUBSCRIBE << 4) | 0x02, body)
    raise ValueError(f"cannot encode {type(packet).__name__}")


def _encode_connect(p: Connect) -> bytes:
    v5 = p.level == 5
    flags = 0x02 if p.clean_start else 0
    if p.will is not None:
        flags |= 0x04 | (p.will.qos << 3) | (0x20 if p.will.retain else 0)
    if p.password is not None:
        flags |= 0x40
    if p.username is not None:
        flags |= 0x80
    body = _utf8(p.protocol_name) + bytes([p.level, flags]) + struct.pack("!H", p.keep_alive)
    if v5:
        body += encode_properties(p.properties)
    body += _utf8(p.client_id)
    if p.will is not None:
        if v5:
            body += encode_properties(p.will.properties)
        body += _utf8(p.will.topic) + _binary(p.will.payload)
    if p.username is not None:
        body += _utf8(p.username)
    if p.password is not None:
        body += _binary(p.password)
    return _frame(CONNECT << 4, body)


# --------------------------------------------------------------------------- decoders


def _decode_connect(r: _Reader, flags: int) -> Connect:
    if flags != 0:
        raise ProtocolError("CONNECT fixed-header flags must be 0", 0x81)
    name = r.string()
    level = r.u8()
    if name != "MQTT" or level not in (4, 5):
        # MQTT 3.1 ("MQIsdp", level 3) is not supported by AWS IoT Core.
        raise ProtocolError(f"unsupported protocol {name!r} level {level}", 0x84)
    cflags = r.u8()
    if cflags & 0x01:
        raise ProtocolError("CONNECT reserved flag set", 0x81)
    keep_alive = r.u16()
    props = r.properties() if level == 5 else Properties()
    client_id = r.string()
    will: Will | None = None
    will_qos = (cflags >> 3) & 0x03
    will_retain = bool(cflags & 0x20)
    if cflags & 0x04:
        if will_qos == 3:
            raise ProtocolError("will QoS 3", 0x81)
        wprops = r.properties() if level == 5 else Properties()
        will = Will(r.string(), r.binary(), will_qos, will_retain, wprops)
    elif will_qos or will_retain:
        raise ProtocolError("will QoS/retain set without a will", 0x81)
    username = r.string() if cflags & 0x80 else None
    password = r.binary() if cflags & 0x40 else None
    if level == 4 and password is not None and username is None:
        raise ProtocolError("password without user name (MQTT 3.1.1 section 3.1.2.9)", 0x81)
    if r.remaining():
        raise ProtocolError("trailing bytes in CONNECT", 0x81)
    return Connect(
        name, level, bool(cflags & 0x02), keep_alive, client_id, username, password, will, props
    )


def decode_packet(first: int, body: bytes, level: int) -> Packet:
    """Decode one packet given its first byte and its body (after the remaining length)."""
    ptype = first >> 4
    flags = first & 0x0F
    r = _Reader(body)
    v5 = level == 5
    if ptype == PUBLISH:
        qos = (flags >> 1) & 0x03
        if qos == 3:
            raise ProtocolError("PUBLISH QoS 3", 0x81)
        topic = r.string()
        pid = r.u16() if qos else None
        if pid == 0:
            raise ProtocolError("packet id 0", 0x81)
        props = r.properties() if v5 else Properties()
        payload = r.take(r.remaining())
        return Publish(topic, payload, qos, bool(flags & 1), bool(flags & 8), pid, props)
    if ptype == PUBACK:
        _check_flags(flags, 0, "PUBACK")
        pid = r.u16()
        reason = r.u8() if v5 and r.remaining() else 0
        props = r.properties() if v5 and r.remaining() else Properties()
        return Puback(pid, reason, props)
    if ptype == SUBSCRIBE:
        _check_flags(flags, 2, "SUBSCRIBE")
        pid = r.u16()
        if pid == 0:
            raise ProtocolError("packet id 0", 0x81)
        props = r.properties() if v5 else Properties()
        reqs: list[SubscriptionRequest] = []
        while r.remaining():
            f = r.string()
            opts = r.u8()
            reserved = 0xC0 if v5 else 0xFC
            if opts & reserved:
                raise ProtocolError("SUBSCRIBE options reserved bits set", 0x81)
            retain_handling = (opts >> 4) & 0x03
            if retain_handling == 3:
                raise ProtocolError("retain handling 3", 0x81)
            reqs.append(
                SubscriptionRequest(
                    f, opts & 0x03, bool(opts & 0x04), bool(opts & 0x08), retain_handling
                )
            )
        if not reqs:
            raise ProtocolError("SUBSCRIBE without a topic filter (MQTT-3.8.3-3)", 0x81)
        return Subscribe(pid, reqs, props)
    if ptype == UNSUBSCRIBE:
        _check_flags(flags, 2, "UNSUBSCRIBE")
        pid = r.u16()
        props = r.properties() if v5 else Properties()
        filters: list[str] = []
        while r.remaining():
            filters.append(r.string())
        if not filters:
            raise ProtocolError("UNSUBSCRIBE without a topic filter", 0x81)
        return Unsubscribe(pid, filters, props)
    if ptype == PINGREQ:
        _check_flags(flags, 0, "PINGREQ")
        if r.remaining():
            raise ProtocolError("PINGREQ with a body", 0x81)
        return Pingreq()
    if ptype == DISCONNECT:
        _check_flags(flags, 0, "DISCONNECT")
        reason = r.u8() if v5 and r.remaining() else 0
        props = r.properties() if v5 and r.remaining() else Properties()
        return Disconnect(reason, props)
    if ptype == CONNECT:
        return _decode_connect(r, flags)
    if ptype == CONNACK:
        sp = r.u8()
        code = r.u8()
        props = r.properties() if v5 and r.remaining() else Properties()
        return Connack(bool(sp & 1), code, props)
    if ptype == SUBACK:
        pid = r.u16()
        props = r.properties() if v5 else Properties()
        return Suback(pid, list(r.take(r.remaining())), props)
    if ptype == UNSUBACK:
        pid = r.u16()
        props = r.properties() if v5 and r.remaining() else Properties()
        return Unsuback(pid, list(r.take(r.remaining())), props)
    if ptype == PINGRESP:
        return Pingresp()
    if ptype in (PUBREC, PUBREL, PUBCOMP, AUTH):
        return Unsupported(ptype)
    raise ProtocolError(f"reserved packet type {ptype}", 0x81)


def _check_flags(flags: int, expected: int, name: str) -> None:
    if flags != expected:
        raise ProtocolError(f"{name} fixed-header flags must be {expected}", 0x81)


class StreamDecoder:
    """Incremental decoder: `feed(bytes)` returns the whole packets now available.

    `max_packet` bounds the remaining length accepted before reading the body, so a
    hostile length prefix never makes the server buffer more than that.
    """

    def __init__(self, max_packet: int, level: int = 4) -> None:
        self.max_packet = max_packet
        self.level = level
        self._buf = bytearray()

    def pending(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[Packet]:
        buf = self._buf
        buf += data
        out: list[Packet] = []
        pos = 0
        n = len(buf)
        while n - pos >= 2:
            first = buf[pos]
            # remaining length: at most 4 bytes (MQTT 3.1.1 section 2.2.3)
            length = 0
            mult = 1
            i = pos + 1
            complete = False
            for _ in range(4):
                if i >= n:
                    break
                b = buf[i]
                i += 1
                length += (b & 0x7F) * mult
                mult *= 128
                if not b & 0x80:
                    complete = True
                    break
            else:
                raise ProtocolError("remaining length longer than 4 bytes", 0x81)
            if not complete:
                break
            if length > self.max_packet:
                raise PacketTooLarge(f"packet of {length} bytes exceeds {self.max_packet}")
            if n - i < length:
                break
            body = bytes(buf[i : i + length])
            pos = i + length
            packet = decode_packet(first, body, self.level)
            if isinstance(packet, Connect):
                self.level = packet.level  # later packets are read at the CONNECT's level
            out.append(packet)
        if pos:
            del buf[:pos]
        return out
