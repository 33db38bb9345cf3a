"""The AWS partition of a region (``aws``, ``aws-cn``, ``aws-us-gov``...) and its DNS suffix, from botocore's own
endpoint data: the ARNs and service hosts built here follow the region (cn-north-1's SNS topics are
``arn:aws-cn:sns:...`` and its signing certificates come from ``sns.cn-north-1.amazonaws.com.cn``)."""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _resolver():
    from botocore.loaders import create_loader
    from botocore.regions import EndpointResolver
    return EndpointResolver(create_loader().load_data("endpoints"))


@lru_cache(maxsize=None)
def partition(region: str) -> str:
    """The partition of ``region``; ``aws`` for a region this botocore does not know yet (a new commercial one)."""
    from botocore.exceptions import UnknownRegionError
    try:
        return _resolver().get_partition_for_region(region)
    except UnknownRegionError:
        return "aws"


def dns_suffix(region: str) -> str:
    """``amazonaws.com``, or the partition's own (``amazonaws.com.cn``)."""
    return _resolver().get_partition_dns_suffix(partition(region))


def arn(service: str, region: str, account: str, resource: str) -> str:
    """``arn:<partition>:<service>:<region>:<account>:<resource>``."""
    return f"arn:{partition(region)}:{service}:{region}:{account}:{resource}"
