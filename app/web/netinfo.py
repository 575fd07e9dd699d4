"""The addresses other machines on the network can reach this one at (for join URLs and QR codes)."""

import contextlib
import fcntl
import ipaddress
import socket
import struct

SIOCGIFADDR = 0x8915  # Linux: an interface's IPv4 address


def _interface_addresses() -> list[str]:
    out = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _, name in socket.if_nameindex():
            with contextlib.suppress(OSError):
                req = struct.pack("256s", name.encode()[:15])
                out.append(socket.inet_ntoa(fcntl.ioctl(s.fileno(), SIOCGIFADDR, req)[20:24]))
    return out


def lan_addresses() -> list[str]:
    """IPv4 addresses of this machine other than loopback, private ranges first."""
    found: list[str] = []
    with contextlib.suppress(OSError):
        found += _interface_addresses()
    with contextlib.suppress(OSError):
        found += [str(ai[4][0]) for ai in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)]
    addrs = []
    for a in dict.fromkeys(found):
        ip = ipaddress.ip_address(a)
        if not (ip.is_loopback or ip.is_link_local or ip.is_unspecified):
            addrs.append(ip)
    return [str(ip) for ip in sorted(addrs, key=lambda ip: (not ip.is_private, ip))]


def is_wildcard(host: str) -> bool:
    return host in ("0.0.0.0", "::", "")


def is_loopback(host: str) -> bool:
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    return host == "localhost"
