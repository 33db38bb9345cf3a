"""Who acted: the one operator record of runs (manifest entries) and of audited actions (audit records).

Written in one shape::

    {"user": "alice", "host": "ops-1", "ip_address": "10.0.0.5", "role": null,
     "aws": {"account": "123456789012", "arn": "arn:aws:sts::...", "error": null}}

``aws.error`` names why the caller identity could not be read (then account and ARN are null). Records
written before this shape existed are still read by :meth:`Operator.from_dict`: a run's
``{"user", "aws": {"account", "arn"} | {"error"}}`` and an audit record's
``{"local_user", "aws_arn", "aws_account", "host", "ip_address"}`` (the webhook's also ``role``). Readers
go through it; what is stored is never rewritten (the manifest's hash chain covers the bytes as written).
"""
from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from .connection import Ops


def local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):   # no passwd entry (containers)
        return "unknown"


def host() -> str:
    return socket.gethostname()


def _ip_address(name: str) -> str | None:
    try:
        return socket.gethostbyname(name)
    except OSError:
        return None   # no resolvable address for this host: the record says so with null


@dataclass(frozen=True)
class Operator:
    """Who acted: the local user, the machine, the AWS caller identity (or why it is unknown), and a role
    (``runbook serve`` for the webhook receiver's decisions)."""
    user: str | None
    aws_account: str | None = None
    aws_arn: str | None = None
    aws_error: str | None = None
    host: str | None = None
    ip_address: str | None = None
    role: str | None = None

    @classmethod
    def from_identity(cls, identity: Mapping[str, Any] | None, *, with_address: bool = False,
                      role: str | None = None) -> "Operator":
        """This process's operator with ``identity`` (:meth:`opslib.connection.Ops.caller_identity`'s
        ``{"account", "arn"}`` or ``{"error"}``; None: not asked). ``with_address``: also this host's IP address
        (the ``ip_address`` column of ``audit_logs``)."""
        identity = identity or {}
        name = host()
        return cls(user=local_user(), aws_account=identity.get("account"), aws_arn=identity.get("arn"),
                   aws_error=identity.get("error"), host=name, ip_address=_ip_address(name) if with_address else None,
                   role=role)

    @classmethod
    def of(cls, ops: "Ops") -> "Operator":
        """The operator of an action taken through ``ops``: its caller identity and this host's address."""
        return cls.from_identity(ops.caller_identity(), with_address=True)

    def to_dict(self) -> dict:
        return {"user": self.user, "host": self.host, "ip_address": self.ip_address, "role": self.role,
                "aws": {"account": self.aws_account, "arn": self.aws_arn, "error": self.aws_error}}

    @classmethod
    def from_dict(cls, data: "Mapping[str, Any] | Operator | None") -> "Operator":
        """An operator as stored, in this shape or in either shape written before it (see the module)."""
        if isinstance(data, Operator):
            return data
        data = data or {}
        aws = data.get("aws")
        aws = aws if isinstance(aws, Mapping) else {}
        return cls(user=data.get("user", data.get("local_user")),
                   aws_account=aws.get("account", data.get("aws_account")),
                   aws_arn=aws.get("arn", data.get("aws_arn")),
                   aws_error=aws.get("error", data.get("aws_error")),
                   host=data.get("host"), ip_address=data.get("ip_address"), role=data.get("role"))

    @property
    def aws_text(self) -> str:
        """The AWS identity in a phrase: its ARN, ``unknown (<error>)``, or ``-`` when none was read."""
        if self.aws_arn:
            return self.aws_arn
        return f"unknown ({self.aws_error})" if self.aws_error else "-"
