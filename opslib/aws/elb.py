"""Elastic Load Balancing (v2) reads: target groups by name and the health of their targets, the certificates
the listeners serve. Clients are passed in."""
from __future__ import annotations

from typing import Any, Iterable, Iterator


def target_groups(elb: Any, names: Iterable[str]) -> Iterator[dict]:
    """The target groups named ``names`` (``describe_target_groups``, paginated)."""
    names = list(names)
    if not names:
        return
    for page in elb.get_paginator("describe_target_groups").paginate(Names=names):
        yield from page["TargetGroups"]


def target_health(elb: Any, target_group_arn: str) -> list[dict]:
    """``describe_target_health``'s TargetHealthDescriptions of one target group (the API has no pages)."""
    return elb.describe_target_health(TargetGroupArn=target_group_arn)["TargetHealthDescriptions"]


def health_counts(elb: Any, target_group_arns: Iterable[str]) -> dict[str, int]:
    """How many targets of the target groups are in each state (``healthy``, ``unhealthy``, ``draining``...)."""
    counts: dict[str, int] = {}
    for arn in target_group_arns:
        for d in target_health(elb, arn):
            state = d["TargetHealth"]["State"]
            counts[state] = counts.get(state, 0) + 1
    return counts


def listener_certificate_arns(elbv2: Any) -> Iterator[tuple[dict, dict, list[str]]]:
    """(load balancer, listener, certificate ARNs) for every listener of every load balancer (paginated): its
    default certificate and, for HTTPS/TLS listeners, the SNI certificates too."""
    for page in elbv2.get_paginator("describe_load_balancers").paginate():
        for lb in page["LoadBalancers"]:
            for lpage in elbv2.get_paginator("describe_listeners").paginate(LoadBalancerArn=lb["LoadBalancerArn"]):
                for listener in lpage["Listeners"]:
                    arns = [c["CertificateArn"] for c in listener.get("Certificates", [])]
                    if listener.get("Protocol") in ("HTTPS", "TLS"):
                        arns += [c["CertificateArn"] for c in elbv2.describe_listener_certificates(
                            ListenerArn=listener["ListenerArn"]).get("Certificates", [])]
                    yield lb, listener, list(dict.fromkeys(arns))
