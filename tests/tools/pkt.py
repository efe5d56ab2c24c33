#!/usr/bin/env python3
"""Crafted Ethernet frames for the firewall tests: send them, and count those that arrive.

  pkt.py send IFACE --prefix P FRAME...
  pkt.py hex --smac MAC --prefix P FRAME...
  pkt.py recv IFACE --prefix P [--want NAME]... [--timeout S] [--grace S] [--ready FILE]

A FRAME is NAME,KIND[,key=value...]. Every frame carries the marker "<P><NAME>." in its
payload, so a receiver counts exactly the frames of this run and tells them apart. send
sends the frames in order, from one CPU, so that they also arrive in that order. hex prints
each frame in hex, one a line, for a sender elsewhere (a real-Xen guest's rawsend).

Kinds and their keys (every kind also takes smac=, dmac= and vlan=):
  raw   type=0x88b5                      the marker as the payload of that ethertype
  ipv4  src= dst= sport= dport=          UDP over IPv4
  dhcp  src=0.0.0.0                      a DHCP discover, UDP 68 -> 67 to 255.255.255.255
  arp   op=request|reply spa= tpa= sha= tha= htype=1 ptype=0x0800 hlen=6 plen=4
                                         the marker follows the 28-byte ARP body
  ipv6  src= dst= sport= dport=          UDP over IPv6
  ns    src=:: target=                   ICMPv6 neighbour solicitation (DAD when src is ::)
                                         to the target's solicited-node group, marker in a
                                         nonce option
  ra    src=fe80::1 lifetime=1800        ICMPv6 router advertisement to ff02::1, the router
                                         lifetime in seconds, marker in a nonce option
smac defaults to the interface's MAC, dmac to broadcast (ns: the group's MAC). vlan=10
adds an 802.1Q tag; vlan=20/10 two tags (outer first); tpid=0x88a8 makes the outer one
an 802.1ad tag.

recv binds before it writes --ready FILE (so a sender started after that file appears is
seen), then prints one line per marker seen:
  NAME count=N smac=MAC type=0xETHERTYPE [vlan=ID[/ID]] [src=ADDR dst=ADDR] [sha=MAC]
It stops --grace seconds after every --want name has arrived, else at --timeout.
Standard library only.
"""

import argparse
import ipaddress
import os
import re
import select
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD
ETH_P_8021Q = 0x8100
SOL_PACKET = 263
PACKET_AUXDATA = 8
PACKET_OUTGOING = 4
TP_STATUS_VLAN_VALID = 0x10


def mac_bytes(text):
    parts = text.split(":")
    if len(parts) != 6:
        raise ValueError("bad MAC %r" % text)
    return bytes(int(p, 16) for p in parts)


def mac_text(raw):
    return ":".join("%02x" % b for b in raw)


def iface_mac(iface):
    with open("/sys/class/net/%s/address" % iface) as f:
        return f.read().strip()


def csum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


def ipv4_packet(src, dst, proto, payload, ttl=64):
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0x1234, 0, ttl, proto,
                         0, socket.inet_aton(src), socket.inet_aton(dst))
    header = header[:10] + struct.pack("!H", csum(header)) + header[12:]
    return header + payload


def udp4(src, dst, sport, dport, data):
    # Checksum 0: none, which IPv4 allows.
    return ipv4_packet(src, dst, 17, struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data)


def ipv6_packet(src, dst, nh, payload, hops=64):
    s = socket.inet_pton(socket.AF_INET6, src)
    d = socket.inet_pton(socket.AF_INET6, dst)
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), nh, hops, s, d) + payload


def l4_csum6(src, dst, nh, segment):
    pseudo = (socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) +
              struct.pack("!I3xB", len(segment), nh))
    return csum(pseudo + segment)


def udp6(src, dst, sport, dport, data):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    c = l4_csum6(src, dst, 17, seg) or 0xFFFF
    return ipv6_packet(src, dst, 17, seg[:6] + struct.pack("!H", c) + seg[8:])


def solicited_node(target):
    t = ipaddress.IPv6Address(target).packed
    group = ipaddress.IPv6Address("ff02::1:ff00:0").packed[:13] + t[13:]
    return str(ipaddress.IPv6Address(group)), "33:33:" + mac_text(group[12:])


def nonce_option(marker):
    # The marker travels in a nonce option (type 14), as DAD probes carry one.
    body = marker + b"\0" * ((-(len(marker) + 2)) % 8)
    return struct.pack("!BB", 14, (len(body) + 2) // 8) + body


def icmp6(src, dst, seg):
    c = l4_csum6(src, dst, 58, seg)
    return ipv6_packet(src, dst, 58, seg[:2] + struct.pack("!H", c) + seg[4:], hops=255)


def neighbour_solicitation(src, target, dst, marker):
    seg = struct.pack("!BBHI16s", 135, 0, 0, 0, socket.inet_pton(socket.AF_INET6, target))
    return icmp6(src, dst, seg + nonce_option(marker))


def router_advertisement(src, lifetime, marker):
    # Current hop limit 64, no flags, reachable time and retransmission timer unspecified.
    seg = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, lifetime, 0, 0)
    return icmp6(src, "ff02::1", seg + nonce_option(marker))


def dhcp_discover(smac, marker):
    # A BOOTP request; the marker sits in the server-name field, free text by design.
    if len(marker) > 63:
        raise ValueError("marker too long for a DHCP frame")
    sname = marker + b"\0" * (64 - len(marker))
    bootp = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, 0x58485431, 0, 0x8000,
                        bytes(4), bytes(4), bytes(4), bytes(4), smac + bytes(10), sname,
                        bytes(128))
    options = bytes([99, 130, 83, 99, 53, 1, 1, 255])
    return bootp + options


def vlan_tags(spec, tpid_outer):
    """The tag bytes for vlan=ID or OUTER/INNER, outer first."""
    if not spec:
        return b""
    ids = [int(v) for v in spec.split("/")]
    out = b""
    for i, vid in enumerate(ids):
        tpid = tpid_outer if i == 0 and len(ids) > 1 else ETH_P_8021Q
        out += struct.pack("!HH", tpid, vid & 0x0FFF)
    return out


def build(default_smac, prefix, spec):
    fields = spec.split(",")
    if len(fields) < 2:
        raise ValueError("frame %r: expected NAME,KIND[,key=value...]" % spec)
    name, kind = fields[0], fields[1]
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ValueError("frame name %r: letters, digits, '_' and '-' only" % name)
    kv = {}
    for f in fields[2:]:
        k, sep, v = f.partition("=")
        if not sep:
            raise ValueError("frame %r: %r is not key=value" % (spec, f))
        kv[k] = v
    marker = (prefix + name + ".").encode()
    smac = mac_bytes(kv.pop("smac", default_smac))
    dmac = kv.pop("dmac", None)
    tags = vlan_tags(kv.pop("vlan", ""), int(kv.pop("tpid", "0x8100"), 0))

    def num(key, default):
        return int(kv.pop(key, default), 0)

    if kind == "raw":
        etype, payload = num("type", "0x88b5"), marker
    elif kind == "ipv4":
        etype = ETH_P_IP
        payload = udp4(kv.pop("src"), kv.pop("dst", "10.255.255.254"), num("sport", "4000"),
                       num("dport", "4000"), marker)
    elif kind == "dhcp":
        etype = ETH_P_IP
        payload = udp4(kv.pop("src", "0.0.0.0"), kv.pop("dst", "255.255.255.255"), 68, 67,
                       dhcp_discover(smac, marker))
    elif kind == "arp":
        etype = ETH_P_ARP
        op = kv.pop("op", "request")
        opcode = {"request": 1, "reply": 2}.get(op) or int(op, 0)
        sha = mac_bytes(kv.pop("sha", mac_text(smac)))
        tha = mac_bytes(kv.pop("tha", "00:00:00:00:00:00"))
        payload = struct.pack("!HHBBH6s4s6s4s", num("htype", "1"), num("ptype", "0x0800"),
                              num("hlen", "6"), num("plen", "4"), opcode, sha,
                              socket.inet_aton(kv.pop("spa")), tha,
                              socket.inet_aton(kv.pop("tpa", "0.0.0.0"))) + marker
    elif kind == "ipv6":
        etype = ETH_P_IPV6
        payload = udp6(kv.pop("src"), kv.pop("dst", "ff02::1"), num("sport", "4000"),
                       num("dport", "4000"), marker)
    elif kind == "ns":
        etype = ETH_P_IPV6
        target = kv.pop("target")
        group, group_mac = solicited_node(target)
        dmac = dmac or group_mac
        payload = neighbour_solicitation(kv.pop("src", "::"), target, kv.pop("dst", group),
                                         marker)
    elif kind == "ra":
        etype = ETH_P_IPV6
        dmac = dmac or "33:33:00:00:00:01"
        payload = router_advertisement(kv.pop("src", "fe80::1"), num("lifetime", "1800"),
                                       marker)
    else:
        raise ValueError("frame %r: unknown kind %r" % (spec, kind))
    if kv:
        raise ValueError("frame %r: unknown keys %s" % (spec, ", ".join(sorted(kv))))
    frame = (mac_bytes(dmac or "ff:ff:ff:ff:ff:ff") + smac + tags + struct.pack("!H", etype) +
             payload)
    return frame + b"\0" * max(0, 60 - len(frame))


def cmd_send(args):
    smac = iface_mac(args.iface)
    frames = [build(smac, args.prefix, spec) for spec in args.frames]
    # On one CPU the frames go through one backlog queue, so they arrive in the order
    # sent: once the last one is in, the earlier ones have had their chance.
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((args.iface, 0))
    for f in frames:
        s.send(f)
    s.close()
    return 0


def cmd_hex(args):
    for spec in args.frames:
        print(build(args.smac, args.prefix, spec).hex())
    return 0


def describe(frame, aux_vlan):
    """smac, ethertype, VLAN ids and the addresses of one received frame."""
    info = {"smac": mac_text(frame[6:12])}
    vlans = [aux_vlan] if aux_vlan is not None else []
    off = 12
    etype = struct.unpack("!H", frame[off:off + 2])[0]
    while etype in (ETH_P_8021Q, 0x88A8) and len(frame) >= off + 6:
        vlans.append(struct.unpack("!H", frame[off + 2:off + 4])[0] & 0x0FFF)
        off += 4
        etype = struct.unpack("!H", frame[off:off + 2])[0]
    info["type"] = "0x%04x" % etype
    if vlans:
        info["vlan"] = "/".join(str(v) for v in vlans)
    l3 = frame[off + 2:]
    if etype == ETH_P_IP and len(l3) >= 20:
        info["src"] = socket.inet_ntoa(l3[12:16])
        info["dst"] = socket.inet_ntoa(l3[16:20])
    elif etype == ETH_P_IPV6 and len(l3) >= 40:
        info["src"] = socket.inet_ntop(socket.AF_INET6, l3[8:24])
        info["dst"] = socket.inet_ntop(socket.AF_INET6, l3[24:40])
    elif etype == ETH_P_ARP and len(l3) >= 28:
        info["sha"] = mac_text(l3[8:14])
        info["src"] = socket.inet_ntoa(l3[14:18])
    return info


def cmd_recv(args):
    pattern = re.compile(re.escape(args.prefix.encode()) + rb"([A-Za-z0-9_-]+)\.")
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((args.iface, 0))
    # The kernel keeps a received VLAN tag out of the data; ask for it beside the frame.
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    if args.ready:
        with open(args.ready + ".tmp", "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(args.ready + ".tmp", args.ready)
    seen = {}
    want = set(args.want)
    deadline = time.monotonic() + args.timeout
    settled = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([s], [], [], left)
        if not ready:
            break
        frame, anc, _, addr = s.recvmsg(65536, socket.CMSG_SPACE(32))
        if addr[2] == PACKET_OUTGOING:
            continue
        m = pattern.search(frame)
        if not m:
            continue
        aux_vlan = None
        for level, ctype, data in anc:
            if level == SOL_PACKET and ctype == PACKET_AUXDATA and len(data) >= 20:
                status, _, _, _, _, tci = struct.unpack("IIIHHH", data[:18])
                if status & TP_STATUS_VLAN_VALID:
                    aux_vlan = tci & 0x0FFF
        name = m.group(1).decode()
        if name in seen:
            seen[name]["count"] += 1
        else:
            seen[name] = dict(count=1, **describe(frame, aux_vlan))
        if not settled and want <= set(seen):
            settled = True
            deadline = min(deadline, time.monotonic() + args.grace)
    s.close()
    for name in sorted(seen):
        info = seen[name]
        extra = " ".join("%s=%s" % (k, info[k]) for k in ("vlan", "src", "dst", "sha")
                         if k in info)
        print(("%s count=%d smac=%s type=%s %s" % (name, info["count"], info["smac"],
                                                   info["type"], extra)).rstrip())
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    ps = sub.add_parser("send")
    ps.add_argument("iface")
    ps.add_argument("--prefix", required=True)
    ps.add_argument("frames", nargs="+")
    ph = sub.add_parser("hex")
    ph.add_argument("--smac", required=True)
    ph.add_argument("--prefix", required=True)
    ph.add_argument("frames", nargs="+")
    pr = sub.add_parser("recv")
    pr.add_argument("iface")
    pr.add_argument("--prefix", required=True)
    pr.add_argument("--want", action="append", default=[])
    pr.add_argument("--timeout", type=float, default=5.0)
    pr.add_argument("--grace", type=float, default=0.3)
    pr.add_argument("--ready")
    args = p.parse_args()
    try:
        return {"send": cmd_send, "hex": cmd_hex, "recv": cmd_recv}[args.cmd](args)
    except (ValueError, KeyError, OSError) as e:
        print("pkt.py: %s" % (e if not isinstance(e, KeyError) else "missing key %s" % e),
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
