"""Which model-server addresses MedGov may call (a guard against server-side request forgery).

Link-local and cloud-metadata addresses are refused by default; a hospital can restrict endpoints
further to its own networks with ``MEDGOV_ENDPOINT_ALLOWED_NETWORKS`` (CIDRs or host names).
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from config.errors import ServiceError


class EndpointNotAllowed(ServiceError):
    code = "endpoint_not_allowed"


def _networks(entries):
    networks, hosts = [], set()
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            hosts.add(entry.lower())
    return networks, hosts


def resolve(host: str) -> list[ipaddress._BaseAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        return []
    return sorted({ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos}, key=str)


def check_endpoint_url(url: str) -> None:
    """Raise EndpointNotAllowed unless ``url`` is http(s) and points at an allowed address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EndpointNotAllowed(_("The base URL must be an http:// or https:// address."))
    if parts.username or parts.password:
        raise EndpointNotAllowed(_("Put credentials in the API key, not in the URL."))
    host = parts.hostname.lower()
    blocked, blocked_hosts = _networks(settings.MEDGOV_ENDPOINT_BLOCKED_NETWORKS)
    allowed, allowed_hosts = _networks(settings.MEDGOV_ENDPOINT_ALLOWED_NETWORKS)
    if host in blocked_hosts or host == "metadata.google.internal":
        raise EndpointNotAllowed(_("%(host)s is a blocked address.") % {"host": host})
    addresses = resolve(host)
    for address in addresses:
        if address.is_link_local or any(address in network for network in blocked):
            raise EndpointNotAllowed(
                _("%(host)s resolves to %(address)s, a link-local or blocked address.")
                % {"host": host, "address": address}
            )
    if allowed or allowed_hosts:
        if host in allowed_hosts:
            return
        if not addresses or not all(any(address in network for network in allowed) for address in addresses):
            raise EndpointNotAllowed(
                _("%(host)s is outside the networks allowed for model endpoints.") % {"host": host}
            )
