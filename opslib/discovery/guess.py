"""From what the account holds (:mod:`.scan`) to a draft profile: every value either observed, or guessed with
its evidence and a confidence, or a ``TODO`` for a person. Nothing here calls AWS."""
from __future__ import annotations

import difflib
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from ..aws import checkpoints as checkpoint_layouts
from ..config import TODO
from .scan import Region

#: What the runbook's service table says about each role (criticality, dependencies), used when a role is guessed.
ROLE_DEFAULTS = {
    "ingest": ("critical", ["ALB", "Kinesis"]), "process": ("critical", ["Kinesis", "S3"]),
    "validate": ("critical", ["API Gateway"]), "aggregate": ("high", ["DynamoDB"]),
    "batch": ("medium", ["S3", "Redshift"]), "query": ("high", ["Redshift", "Cache"]),
}
LAMBDA_ROLE_WORDS = {"validate": ("valid", "schema", "guard", "check", "verif"),
                     "aggregate": ("aggregat", "rollup", "counter", "window", "summar")}
PREFERRED_ALIASES = ("production", "prod", "live", "current", "stable")

#: The profile's metrics: key -> (namespace or None for a custom one, metric name or words of it, stat, unit).
METRICS = {
    "requests": ("AWS/ApplicationELB", "RequestCount", "Sum", "Count"),
    "http_5xx": ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum", "Count"),
    "http_4xx": ("AWS/ApplicationELB", "HTTPCode_Target_4XX_Count", "Sum", "Count"),
    "latency_ms": (None, ("latency",), "p99", "Milliseconds"),
    "health_check_failures": (None, ("health", "fail"), "Sum", "Count"),
    "incoming_records": ("AWS/Kinesis", "IncomingRecords", "Sum", "Count"),
    "iterator_age_ms": ("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "Maximum", "Milliseconds"),
    "events_dropped": (None, ("drop",), "Sum", "Count"),
    "ecs_cpu": ("AWS/ECS", "CPUUtilization", "Average", "Percent"),
    "ecs_memory": ("AWS/ECS", "MemoryUtilization", "Average", "Percent"),
    "disk_used_percent": (None, ("disk",), "Maximum", "Percent"),
    "db_connections": ("AWS/RDS", "DatabaseConnections", "Maximum", "Count"),
    "daily_spend": ("AWS/Billing", "EstimatedCharges", "Maximum", "None"),
}
#: Which service's series a custom metric should be (by role).
METRIC_ROLE = {"latency_ms": "ingest", "health_check_failures": "ingest", "events_dropped": "process",
               "disk_used_percent": "process"}


@dataclass
class Note:
    """A comment written beside a value: evidence and confidence, or why it is a TODO."""
    text: str
    todo: bool = False


@dataclass
class Draft:
    values: dict = field(default_factory=dict)
    notes: dict[tuple, Note] = field(default_factory=dict)
    gaps: list = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)      # things seen but left out, said in a comment

    def note(self, path: tuple, text: str, *, todo: bool = False) -> None:
        self.notes[path] = Note(text, todo)

    def todos(self) -> list[tuple[str, str]]:
        return [(".".join(map(str, p)), n.text) for p, n in self.notes.items() if n.todo]


def similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio()


def best_match(name: str, candidates: list[str]) -> tuple[str | None, float]:
    scored = sorted(((similarity(name, c), c) for c in candidates), reverse=True)
    return (scored[0][1], scored[0][0]) if scored else (None, 0.0)


def lb_name_of(dns: str) -> str:
    """``edge-lb-123.eu-west-1.elb.amazonaws.com`` -> ``edge-lb`` (internal-... too)."""
    label = dns.lower().split(".", 1)[0].removeprefix("internal-")
    return re.sub(r"-\d+$", "", label)


# -- pieces ---------------------------------------------------------------------------------------------------
def checkpoint_layout(keys: dict) -> str | None:
    """``seed`` or ``kcl`` when a table's key schema is a checkpoint layout's, else None."""
    for name in ("kcl", "seed"):
        lay = checkpoint_layouts.layout(name)
        if keys.get("HASH") == lay.key and "RANGE" not in keys:
            return name
    return None


def _main_cluster(reg: Region, ingest_tgs: set) -> str | None:
    if not reg.clusters:
        return None
    return max(reg.clusters, key=lambda c: (any(set(s["target_groups"]) & ingest_tgs for s in reg.clusters[c]),
                                            len(reg.clusters[c]), c))


def _public_tgs(reg: Region) -> dict[str, dict]:
    """Target group ARN -> the internet-facing load balancer whose listener forwards to it."""
    out = {}
    for lb in reg.load_balancers:
        if lb["scheme"] == "internet-facing":
            for tg in lb["forwards"]:
                out.setdefault(tg, lb)
    return out


def _owners(items: list[dict], layout: str | None) -> set[str]:
    if not layout:
        return set()
    key = checkpoint_layouts.layout(layout).owner
    return {i[key]["S"] for i in items if key in i and "S" in i[key]}


def _owner_service(owners: set[str], names: list[str]) -> str | None:
    """The service whose name every checkpoint owner starts with (``enricher-worker-3`` -> ``enricher``)."""
    hits = [n for n in names if owners and all(o == n or o.startswith(n + "-") for o in owners)]
    return max(hits, key=len) if hits else None


def _trusted_cidrs(reg: Region) -> tuple[list[str], str]:
    """Private ranges and the public addresses the account's regular callers used in the last 24 h."""
    private, public = set(), []
    for ip, users in sorted(reg.trail_source_ips.items()):
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:          # an AWS service principal (e.g. "ecs.amazonaws.com")
            continue
        block = next((b for b in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
                      if addr.version == 4 and addr in ipaddress.ip_network(b)), None)
        if block:
            private.add(block)
        elif not addr.is_loopback:
            public.append(f"{ip}/{addr.max_prefixlen}")
    return sorted(private) + public, (f"proposed from the source IPs of the {reg.trail_events} CloudTrail events of "
                                      "the last 24 h; remove any address you do not recognise")


# -- the draft ------------------------------------------------------------------------------------------------
def build(primary: Region, dr: Region, *, account: str | None, name: str, endpoint_url: str | None,
          sandbox: bool, items: dict[str, list[dict]], warehouse: dict | None, gaps: list,
          timeouts: dict, base_metrics: dict | None = None) -> Draft:
    """The draft profile's values and notes. ``items``: a few items of each DynamoDB table that looks like a
    checkpoint table; ``warehouse``: what :func:`opslib.discovery.warehouse.inspect` found, or None."""
    d = Draft(gaps=list(gaps))
    v = d.values
    v["extends"] = "_common"
    v["name"] = name
    if sandbox:
        v["environment"] = "sandbox"
        d.note(("environment",), "the local sandbox")
    else:
        v["environment"] = "production"
        d.note(("environment",), "production, staging or dr: not in the account (production asks a confirmation "
                                 "before each change)", todo=True)
    aws: dict = {"primary_region": primary.name, "dr_region": dr.name}
    if account:
        aws["account_id"] = str(account)
    else:
        d.note(("aws", "account_id"), "sts:GetCallerIdentity was refused", todo=True)
    if endpoint_url:
        aws["endpoint_url"] = endpoint_url
    aws.update(timeouts)
    v["aws"] = aws
    if sandbox:
        d.note(("aws", "endpoint_url"), "the running sandbox (found from its state file)")

    # ECS: the cluster, its services and their load balancers
    public = _public_tgs(primary)
    cluster = _main_cluster(primary, set(public))
    dr_cluster, dr_score = best_match(cluster or "", list(dr.clusters))
    if cluster and dr.clusters:
        # the DR cluster holds the same services: overlap of names weighs as much as the name's similarity
        names = {s["name"] for s in primary.clusters[cluster]}
        dr_cluster = max(dr.clusters, key=lambda c: (similarity(cluster, c) + len(names & {s["name"] for s in dr.clusters[c]})
                                                     / max(1, len(names)), c))
    v["ecs"] = {"cluster": cluster or TODO, "dr_cluster": dr_cluster or TODO}
    if not cluster:
        d.note(("ecs", "cluster"), f"no ECS cluster found in {primary.name}", todo=True)
    else:
        d.note(("ecs", "cluster"), f"holds {len(primary.clusters[cluster])} services"
                                   + (", one behind the internet-facing load balancer" if public else ""))
    if not dr_cluster:
        d.note(("ecs", "dr_cluster"), f"no ECS cluster found in {dr.name}", todo=True)
    else:
        d.note(("ecs", "dr_cluster"), f"in {dr.name}, matched by name and services (name similarity "
                                      f"{similarity(cluster or '', dr_cluster):.2f})")

    # Kinesis and the checkpoint table
    stream = None
    if primary.streams:
        stream = max(primary.streams, key=lambda s: (bool(primary.streams[s]["consumers"]), primary.streams[s]["shards"], s))
    dr_stream, _ = best_match(stream or "", list(dr.streams))
    checkpoint = None
    layout = None
    for table, info in sorted(primary.tables.items()):
        found = checkpoint_layout(info["keys"])
        if found and (checkpoint is None or (stream and similarity(stream, table) > similarity(stream, checkpoint))):
            checkpoint, layout = table, found
    consumers = primary.streams.get(stream, {}).get("consumers", []) if stream else []
    consumer = consumers[0] if consumers else None
    consumer_note = f"the registered consumer of {stream}" if consumer else ""
    if not consumer and checkpoint and layout == "kcl":
        consumer, consumer_note = checkpoint.removesuffix("-leases"), "the KCL application named by its lease table"
    v["kinesis"] = {"stream": stream or TODO, "dr_stream": dr_stream or TODO, "consumer": consumer or TODO,
                    "checkpoint_layout": layout or "seed"}
    d.note(("kinesis", "stream"), f"{primary.streams[stream]['shards']} shards" + (", has a registered consumer" if consumers else "")
           if stream else f"no Kinesis stream found in {primary.name}", todo=not stream)
    d.note(("kinesis", "dr_stream"), f"in {dr.name}, by name similarity ({similarity(stream or '', dr_stream):.2f})"
           if dr_stream else f"no Kinesis stream found in {dr.name}", todo=not dr_stream)
    d.note(("kinesis", "consumer"), consumer_note or "no registered consumer and no KCL lease table", todo=not consumer)
    if checkpoint:
        key = checkpoint_layouts.layout(layout).key
        d.note(("kinesis", "checkpoint_layout"), f"{checkpoint}'s key schema is {{{key}: HASH}}"
               + (": a Kinesis Client Library lease table" if layout == "kcl" else ": one ShardId/SequenceNumber item per shard"))
    else:
        d.note(("kinesis", "checkpoint_layout"), "no DynamoDB table with a checkpoint key schema (ShardId or leaseKey)",
               todo=True)
    others = [t for t in sorted(primary.tables) if t != checkpoint]
    events_table = max(others, key=lambda t: (primary.tables[t]["backups"], -len(t))) if others else None
    v["dynamodb"] = {"checkpoint_table": checkpoint or TODO, "events_table": events_table or TODO}
    if checkpoint:
        d.note(("dynamodb", "checkpoint_table"), f"recognised by its key schema ({layout} layout)")
    else:
        d.note(("dynamodb", "checkpoint_table"), "not found", todo=True)
    d.note(("dynamodb", "events_table"), (f"the other table ({primary.tables[events_table]['backups']} backups)"
                                          + (f"; also in the region: {', '.join(o for o in others if o != events_table)}"
                                             if len(others) > 1 else "")) if events_table else "not found",
           todo=not events_table or len(others) > 1)

    # services and their roles
    services: list[dict] = []
    svc_notes: list[Note] = []
    ecs_services = primary.clusters.get(cluster, []) if cluster else []
    checkpoint_items = items.get(checkpoint or "", [])
    owner = _owner_service(_owners(checkpoint_items, layout), [s["name"] for s in ecs_services])
    dns = _dns(primary, dr, public)
    for s in ecs_services:
        tgs = [primary.target_groups.get(a, {"name": a.rsplit("/", 2)[-2] if "/" in a else a}) for a in s["target_groups"]]
        behind = [public[a] for a in s["target_groups"] if a in public]
        role, confidence, evidence = None, "", ""
        if behind:
            role, confidence = "ingest", "high"
            evidence = f"its target group {tgs[0]['name']} is behind the internet-facing load balancer {behind[0]['name']}"
        elif owner == s["name"]:
            role, confidence = "process", "high"
            evidence = f"its workers hold the leases/checkpoints of {checkpoint} (the consumer of {stream})"
        elif consumer and (consumer == s["name"] or consumer.startswith(s["name"] + "-")):
            role, confidence = "process", "medium"
            evidence = f"named like {stream}'s consumer {consumer}"
        elif s["target_groups"] and re.search(r"api|query|read|serv", s["name"]):
            role, confidence = "query", "low"
            evidence = f"an internal HTTP service (target group {tgs[0]['name']}, not behind a public listener) named like an API"
        entry: dict[str, Any] = {"name": s["name"], "role": role or TODO, "type": "ecs"}
        crit, deps = ROLE_DEFAULTS.get(role or "", ("medium", []))
        path = tgs[0].get("health_check_path") if tgs else None
        if role == "ingest" and dr.name:
            entry["dr_desired_count"] = s["desired"]
        entry.update(criticality=crit, dependencies=deps, health_check=path or "cloudwatch")
        if path:
            if sandbox:
                entry["health_url"] = f"/{s['name']}{path}"
            elif role == "ingest" and dns.get("record"):
                entry["health_url"] = f"https://{dns['record']}{path}"
        if s["log_groups"]:
            entry["log_group"] = s["log_groups"][0]
        if tgs:
            entry["target_group"] = tgs[0]["name"]
        services.append(entry)
        text = (f"{role}, confidence {confidence}: {evidence}" if role else
                "role TODO: no evidence of ingest (public load balancer), process (stream consumer) or query")
        if role == "ingest" and dr.name:
            text += f"; dr_desired_count = the {s['desired']} tasks it runs now"
        if path and not sandbox and "health_url" not in entry:
            text += "; health_url: an internal URL is not in the account (add it if this host can reach it)"
        svc_notes.append(Note(text, todo=not role))
    used_functions = set()
    for fn, info in sorted(primary.functions.items()):
        role = next((r for r, words in LAMBDA_ROLE_WORDS.items() if any(w in fn.lower() for w in words)), None)
        if role is None:
            d.ignored.append(f"Lambda function {fn} (no role evidence)")
            continue
        used_functions.add(fn)
        alias = next((a for a in PREFERRED_ALIASES if a in info["aliases"]), info["aliases"][0] if info["aliases"] else None)
        crit, deps = ROLE_DEFAULTS[role]
        entry = {"name": fn, "role": role, "type": "lambda", "criticality": crit, "dependencies": deps,
                 "health_check": "cloudwatch"}
        if f"/aws/lambda/{fn}" in primary.log_groups:
            entry["log_group"] = f"/aws/lambda/{fn}"
        if alias:
            entry["alias"] = alias
        services.append(entry)
        svc_notes.append(Note(f"{role}, confidence low: from its name (words: "
                              f"{', '.join(w for w in LAMBDA_ROLE_WORDS[role] if w in fn.lower())})"))
    for job in primary.emr_clusters:
        crit, deps = ROLE_DEFAULTS["batch"]
        services.append({"name": job, "role": "batch", "type": "emr", "criticality": crit, "dependencies": deps,
                         "health_check": "emr-console"})
        svc_notes.append(Note("batch, confidence medium: an active EMR cluster"))
    order = ["ingest", "process", "validate", "aggregate", "batch", "query", TODO]
    ranked = sorted(range(len(services)), key=lambda i: order.index(services[i]["role"]))
    services, svc_notes = [services[i] for i in ranked], [svc_notes[i] for i in ranked]
    v["services"] = services
    for i, note in enumerate(svc_notes):
        d.notes[("services", i)] = note
    if not services:
        d.note(("services",), "no ECS service, Lambda function or EMR cluster found", todo=True)

    # S3
    v["s3"] = _buckets(primary, d)
    # DNS
    v["dns"] = {"hosted_zone": dns.get("zone") or TODO, "record": dns.get("record") or TODO,
                "primary_alb_dns": dns.get("primary_alb_dns") or TODO, "dr_alb_dns": dns.get("dr_alb_dns") or TODO}
    ingest = next((s for s in services if s.get("role") == "ingest"), None)
    if sandbox and ingest:
        v["dns"]["dr_health_url"] = f"/dr/{ingest['name']}{ingest.get('health_check') if str(ingest.get('health_check', '')).startswith('/') else '/health'}"
    elif dns.get("dr_record"):
        path = ingest.get("health_check") if ingest and str(ingest.get("health_check", "")).startswith("/") else "/health"
        v["dns"]["dr_health_url"] = f"https://{dns['dr_record']}{path}"
    else:
        v["dns"]["dr_health_url"] = TODO
    for key, text in dns.get("notes", {}).items():
        d.note(("dns", key), text, todo=v["dns"].get(key) == TODO)
    if v["dns"]["dr_health_url"] == TODO:
        d.note(("dns", "dr_health_url"), "no record points at a load balancer in the DR region", todo=True)

    # RDS, secrets, security
    v["rds"] = _rds(primary, dr, d)
    secret = _secret(primary, v["rds"].get("instance"))
    v["secrets"] = {"database_connection": secret or TODO}
    d.note(("secrets", "database_connection"), "named like a database connection (its value is never read)" if secret
           else "no secret named like a database connection", todo=not secret)
    ip_set = next((s for s in primary.ip_sets if re.search(r"block|deny", s, re.I)), primary.ip_sets[0] if primary.ip_sets else None)
    pool = primary.user_pools[0] if primary.user_pools else None
    trail = next((t["name"] for t in primary.trails if t["bucket"] in primary.buckets), primary.trails[0]["name"] if primary.trails else None)
    cidrs, cidr_note = _trusted_cidrs(primary)
    v["security"] = {"waf_ip_set": ip_set or TODO, "waf_scope": "REGIONAL", "cognito_user_pool": pool or TODO,
                     "cloudtrail_trail": trail or TODO, "trusted_cidrs": cidrs}
    for key, value, what in (("waf_ip_set", ip_set, "WAF IP set (REGIONAL)"), ("cognito_user_pool", pool, "Cognito user pool"),
                             ("cloudtrail_trail", trail, "CloudTrail trail")):
        if not value:
            d.note(("security", key), f"no {what} found", todo=True)
        elif key != "cloudtrail_trail" and len(getattr(primary, {"waf_ip_set": "ip_sets", "cognito_user_pool": "user_pools"}[key])) > 1:
            d.note(("security", key), f"one of {len(getattr(primary, {'waf_ip_set': 'ip_sets', 'cognito_user_pool': 'user_pools'}[key]))}: check it")
    d.note(("security", "trusted_cidrs"), "review: " + cidr_note, todo=True)

    # log groups, databases, metrics
    groups = [s["log_group"] for s in services if s.get("log_group") and s["log_group"] in primary.log_groups]
    missing = [s["log_group"] for s in services if s.get("log_group") and s["log_group"] not in primary.log_groups]
    v["log_groups"] = groups
    if missing:
        d.note(("log_groups",), f"named by task definitions but absent: {', '.join(missing)}")
    v["databases"] = _databases(primary, v["rds"].get("instance"), sandbox, warehouse, d)
    v["metrics"] = _metrics(primary, v, services, public, d)
    if sandbox:
        v["notify"] = {"slack": "${OPSLIB_SLACK_WEBHOOK:-}", "pagerduty": "${OPSLIB_PAGERDUTY_URL:-}"}
    else:
        v["notify"] = {"slack": "${OPSLIB_SLACK_WEBHOOK:-}", "pagerduty": "${OPSLIB_PAGERDUTY_URL:-}"}
        v["certificates"] = {"warn_days": 30, "fail_days": 14, "pem_paths": []}
        d.note(("certificates",), "review: the runbook's thresholds (renew 30 days ahead); add PEM files served "
                                  "outside the load balancers", todo=True)
        v["contacts"] = {"on_call": [{"name": TODO, "role": "On-call Engineer", "via": "PagerDuty"}],
                         "manager": [{"name": TODO, "role": "Manager"}]}
        d.note(("contacts",), "who to call is not in the account (the runbook's example names are not inherited)",
               todo=True)
    if not dr.name:
        single_region(d, primary.name)
    merged_dimensions(d, base_metrics or {})
    explain_gaps(d)
    return d


#: the keys of the DR side, left out of a single-region pipeline's draft
DR_KEYS = (("aws", "dr_region"), ("ecs", "dr_cluster"), ("kinesis", "dr_stream"), ("dns", "dr_alb_dns"),
           ("dns", "dr_health_url"), ("rds", "dr_replica"))


def single_region(d: Draft, region: str) -> None:
    """No other region holds the pipeline: the draft names no DR side (and says so once)."""
    for section, key in DR_KEYS:
        d.values.get(section, {}).pop(key, None)
        d.notes.pop((section, key), None)
    d.note(("aws", "primary_region"), f"single-region: no other region holds ECS clusters or Kinesis streams like "
                                      f"{region}'s, so no DR side is drafted (add aws.dr_region, ecs.dr_cluster and "
                                      f"kinesis.dr_stream if there is one)")


#: Which refused calls leave which part of the draft unobserved (a TODO then says so).
NEEDS_APIS = {
    "aws.account_id": ("sts:GetCallerIdentity",),
    "ecs": ("ecs:ListClusters", "ecs:ListServices", "ecs:DescribeServices"),
    "kinesis": ("kinesis:ListStreams", "kinesis:DescribeStreamSummary", "kinesis:ListStreamConsumers",
                "dynamodb:ListTables", "dynamodb:DescribeTable"),
    "dynamodb": ("dynamodb:ListTables", "dynamodb:DescribeTable"),
    "services": ("ecs:ListServices", "ecs:DescribeServices", "ecs:DescribeTaskDefinition", "lambda:ListFunctions",
                 "elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeListeners",
                 "elasticloadbalancing:DescribeTargetGroups", "dynamodb:Scan", "elasticmapreduce:ListClusters"),
    "s3": ("s3:ListBuckets", "s3:ListObjectsV2", "cloudtrail:DescribeTrails"),
    "dns": ("route53:ListHostedZones", "route53:ListResourceRecordSets", "elasticloadbalancing:DescribeLoadBalancers"),
    "rds": ("rds:DescribeDBInstances",),
    "secrets": ("secretsmanager:ListSecrets",),
    "security.waf_ip_set": ("wafv2:ListIPSets",),
    "security.cognito_user_pool": ("cognito-idp:ListUserPools",),
    "security.cloudtrail_trail": ("cloudtrail:DescribeTrails",),
    "security.trusted_cidrs": ("cloudtrail:LookupEvents",),
    "metrics": ("cloudwatch:ListMetrics",),
}


def merged_dimensions(d: Draft, base_metrics: dict) -> None:
    """``extends`` merges mappings key by key: a dimension of the base's metric that the draft's lacks would be
    merged in and name a series that does not exist. Said as a TODO (the draft's proof load shows it too)."""
    for key, metric in d.values.get("metrics", {}).items():
        extra = sorted(set((base_metrics.get(key) or {}).get("dimensions") or {}) - set(metric.get("dimensions") or {}))
        if extra:
            d.note(("metrics", key), f"extends: _common adds its dimension(s) {', '.join(extra)} to this metric; "
                                     "write the whole profile without extends, or check the series exists", todo=True)


def explain_gaps(d: Draft) -> None:
    """Add to each TODO the refused calls that could have answered it."""
    for path, note in d.notes.items():
        if not note.todo:
            continue
        dotted = ".".join(map(str, path))
        apis = {api for prefix, names in NEEDS_APIS.items() if dotted == prefix or dotted.startswith(prefix + ".")
                for api in names}
        refused = sorted({f"{g.api} ({g.region})" for g in d.gaps if g.api in apis})
        if refused:
            note.text += "; refused: " + ", ".join(refused)


def _dns(primary: Region, dr: Region, public: dict) -> dict:
    """The zone and the record pointing at the ingest load balancer, and the one pointing at the DR side's."""
    ingest_lbs = {lb["name"] for lb in public.values()}
    primary_lbs = {lb["name"] for lb in primary.load_balancers}
    dr_lbs = {lb["name"] for lb in dr.load_balancers}
    out: dict = {"notes": {}}
    best = None
    for zone in primary.zones:
        for rr in zone["records"]:
            target = rr["alias"] or (rr["values"][0] if rr["type"] == "CNAME" and rr["values"] else "")
            if not target or ".elb." not in target:
                continue
            lb = lb_name_of(target)
            score = (lb in ingest_lbs) * 4 + (lb in primary_lbs) * 2 + (rr["type"] == "A") + (not zone["private"])
            if (lb in primary_lbs or primary.name in target) and (best is None or score > best[0]):
                best = (score, zone, rr, target)
    if best:
        _, zone, rr, target = best
        out.update(zone=zone["name"], record=rr["name"], primary_alb_dns=target)
        out["notes"]["record"] = f"{rr['type']} {'alias ' if rr['alias'] else ''}to the load balancer {lb_name_of(target)}"
        candidates = []
        for other in zone["records"]:
            t = other["alias"] or (other["values"][0] if other["type"] == "CNAME" and other["values"] else "")
            if t and ".elb." in t and (lb_name_of(t) in dr_lbs or f".{dr.name}." in t):
                candidates.append((similarity(rr["name"], other["name"]) + (other["type"] == "A"), other, t))
        if candidates:
            _, other, t = max(candidates, key=lambda c: c[0])
            out.update(dr_alb_dns=t, dr_record=other["name"])
            out["notes"]["dr_alb_dns"] = f"the target of {other['name']}, a load balancer in {dr.name}"
        else:
            out["notes"]["dr_alb_dns"] = f"no record of {zone['name']} points at a load balancer in {dr.name}"
    else:
        out["notes"]["record"] = "no Route 53 record points at a load balancer of the primary region"
        out["notes"]["hosted_zone"] = "no zone with such a record"
        out["notes"]["primary_alb_dns"] = "not found"
        out["notes"]["dr_alb_dns"] = "not found"
    return out


BUCKET_WORDS = {
    "events_bucket": ("event", "raw", "click", "ingest", "stream"),
    "archive_bucket": ("archive",),
    "backups_bucket": ("backup",),
    "lambda_artifacts_bucket": ("artifact", "lambda", "deploy", "code", "release"),
    "access_logs_bucket": ("access", "lb-log", "alb", "elb"),
    "cloudtrail_bucket": ("trail", "audit"),
}


def _bucket_score(role: str, name: str, info: dict, trail_buckets: set) -> tuple[float, list[str]]:
    why, score = [], 0.0
    words = [w for w in BUCKET_WORDS[role] if w in name.lower()]
    if words:
        score += 3
        why.append(f"its name ({', '.join(words)})")
    keys = info["keys"]
    if role == "cloudtrail_bucket" and name in trail_buckets:
        score += 10
        why.append("a trail writes to it")
    elif role == "lambda_artifacts_bucket" and any(k.endswith((".zip", ".jar")) for k in keys):
        score += 3
        why.append("holds .zip packages")
    elif role == "access_logs_bucket" and any("access" in k or "elasticloadbalancing" in k for k in keys):
        score += 3
        why.append("holds load balancer access logs")
    elif role == "backups_bucket":
        if info["versioned"]:
            score += 1
            why.append("versioned")
        if any(re.search(r"backup|daily/|\.dump", k) for k in keys):
            score += 2
            why.append("holds backups")
    elif role == "archive_bucket" and info["storage_classes"] and "STANDARD_IA" not in info["storage_classes"]:
        score += 2
        why.append("lifecycle straight to " + "/".join(sorted(c for c in info["storage_classes"] if c)))
    elif role == "events_bucket" and "STANDARD_IA" in info["storage_classes"]:
        score += 2
        why.append("hot/warm/cold lifecycle")
    return score, why


def _buckets(primary: Region, d: Draft) -> dict:
    trail_buckets = {t["bucket"] for t in primary.trails if t.get("bucket")}
    candidates = {n: i for n, i in primary.buckets.items() if i["region"] == primary.name} or dict(primary.buckets)
    pairs = sorted(((*_bucket_score(role, name, info, trail_buckets), role, name)
                    for role in BUCKET_WORDS for name, info in candidates.items()), key=lambda p: -p[0])
    out: dict = {}
    used = set()
    for score, why, role, name in pairs:
        if score <= 0 or role in out or name in used:
            continue
        out[role], _ = name, used.add(name)
        d.note(("s3", role), ("confidence high: " if score >= 5 else "confidence medium: " if score >= 3 else
                              "confidence low: ") + ", ".join(why))
    for role in BUCKET_WORDS:
        if role not in out:
            out[role] = TODO
            d.note(("s3", role), f"no bucket of {primary.name} looks like it", todo=True)
    return {role: out[role] for role in BUCKET_WORDS}


def _rds(primary: Region, dr: Region, d: Draft) -> dict:
    sources = [db for db in primary.db_instances if not db["source"]]
    main = max(sources, key=lambda db: (bool(db["replicas"]), db["engine"].startswith(("postgres", "aurora-postgresql")),
                                        db["id"])) if sources else None
    out: dict = {"instance": main["id"] if main else TODO}
    replicas = [r for r in (main or {}).get("replicas", []) if ":" not in r]
    out["replica"] = replicas[0] if replicas else None
    if main:
        d.note(("rds", "instance"), f"{main['engine']}" + (f", source of {len(main['replicas'])} read replica(s)"
                                                           if main["replicas"] else ""))
    else:
        d.note(("rds", "instance"), f"no RDS instance in {primary.name}", todo=True)
    if not replicas:
        d.note(("rds", "replica"), "none: no read replica of it in the region (the RPO then rests on backups; null "
                                   "also keeps _common's example replica out)")
    dr_replica = next((db["id"] for db in dr.db_instances if main and db["source"] and
                       (db["source"] == main["id"] or db["source"].endswith(f":db:{main['id']}"))), None)
    if dr_replica:
        out["dr_replica"] = dr_replica
        d.note(("rds", "dr_replica"), f"in {dr.name}, a cross-region replica of {main['id']}")
    return out


def _secret(primary: Region, instance: str | None) -> str | None:
    def score(name: str) -> int:
        n = name.lower()
        return (3 if instance and instance.lower() in n else 0) + sum(w in n for w in ("database", "db", "connection", "pg", "rds"))
    ranked = sorted(primary.secrets, key=lambda s: (-score(s), s))
    return ranked[0] if ranked and score(ranked[0]) > 0 else None


def _databases(primary: Region, instance: str | None, sandbox: bool, warehouse: dict | None, d: Draft) -> dict:
    if sandbox:
        wh: dict = {"url": "sandbox", "dialect_hint": "duckdb"}
        db: dict = {"url": "${ANALYTICS_DB_URL:-sandbox}", "dialect_hint": "postgresql"}
        d.note(("databases", "warehouse", "url"), "the sandbox's DuckDB warehouse")
    else:
        wh = {"url": "${WAREHOUSE_DB_URL}", "dialect_hint": "redshift" if primary.redshift_clusters else "postgresql"}
        d.note(("databases", "warehouse", "url"), "a SQLAlchemy URL in the environment, never in the file"
               + (f" (Redshift clusters here: {', '.join(primary.redshift_clusters)})" if primary.redshift_clusters else ""))
        db = {"url": "${ANALYTICS_DB_URL}", "dialect_hint": "postgresql"}
        main = next((x for x in primary.db_instances if x["id"] == instance), None)
        d.note(("databases", "database", "url"), "the operational PostgreSQL; set ANALYTICS_DB_URL"
               + (f" (e.g. postgresql://USER:PASSWORD@{main['endpoint']}:{main['port']}/{main['dbname'] or 'analytics'})"
                  if main and main.get("endpoint") else ""))
    if warehouse and warehouse.get("table"):
        wh["events_table"] = warehouse["table"]
        if warehouse.get("columns"):
            wh["columns"] = warehouse["columns"]
        if warehouse.get("timestamps"):
            wh["timestamps"] = warehouse["timestamps"]
        d.note(("databases", "warehouse", "events_table"), warehouse["evidence"], todo=bool(warehouse.get("unsure")))
    else:
        d.note(("databases", "warehouse", "events_table"), "the warehouse was not reachable from here: the runbook's "
               "default table `events` (set columns: if its columns are named otherwise)"
               + (f" ({warehouse['error']})" if warehouse and warehouse.get("error") else ""), todo=True)
    return {"warehouse": wh, "database": db}


def _metrics(primary: Region, v: dict, services: list[dict], public: dict, d: Draft) -> dict:
    by_role = {s["role"]: s["name"] for s in reversed(services) if s.get("role") and s.get("role") != TODO}
    stream = v["kinesis"]["stream"]
    cluster = v["ecs"]["cluster"]
    instance = v["rds"]["instance"]
    ingest_tg = next((s.get("target_group") for s in services if s.get("role") == "ingest"), None)
    tg_arn = next((a for a, tg in primary.target_groups.items() if tg["name"] == ingest_tg), None)
    lb = public.get(tg_arn) if tg_arn else None
    lb = lb or (next(iter(public.values())) if public else None)
    wanted_static = {
        "AWS/ApplicationELB": ("LoadBalancer", lambda val: bool(lb) and (val == lb["dimension"] or val.startswith(f"app/{lb['name']}/"))),
        "AWS/Kinesis": ("StreamName", lambda val: val == stream),
        "AWS/RDS": ("DBInstanceIdentifier", lambda val: val == instance),
        "AWS/Billing": ("Currency", lambda val: True),
    }
    out: dict = {}
    for key, (namespace, name, stat, unit) in METRICS.items():
        found = None
        if namespace == "AWS/ECS":
            target = {"ClusterName": cluster, "ServiceName": by_role.get("ingest")}
            found = next((m for m in primary.metrics if m["namespace"] == namespace and m["name"] == name
                          and m["dimensions"] == target), None)
            evidence = f"the ingest service {by_role.get('ingest')} in {cluster}"
        elif namespace:
            dim, accept = wanted_static[namespace]
            hits = sorted((m for m in primary.metrics if m["namespace"] == namespace and m["name"] == name
                           and set(m["dimensions"]) == {dim} and accept(m["dimensions"][dim])),
                          key=lambda m: (m["dimensions"][dim] != (lb or {}).get("dimension"), m["dimensions"][dim]))
            found = hits[0] if hits else None
            evidence = {"AWS/ApplicationELB": f"the ingest load balancer {(lb or {}).get('name')}",
                        "AWS/Kinesis": f"the stream {stream}", "AWS/RDS": f"the instance {instance}",
                        "AWS/Billing": "the account's estimated charges"}[namespace]
        else:
            role_service = by_role.get(METRIC_ROLE[key])
            hits = [m for m in primary.metrics if not m["namespace"].startswith("AWS/")
                    and all(w in m["name"].lower() for w in name)]
            hits.sort(key=lambda m: (role_service not in m["dimensions"].values(), len(m["dimensions"]), m["namespace"], m["name"]))
            found = hits[0] if hits else None
            evidence = (f"a custom metric named with '{' and '.join(name)}'"
                        + (f", series of the {METRIC_ROLE[key]} service {role_service}" if found and role_service in found["dimensions"].values() else ""))
        if found:
            out[key] = {"namespace": found["namespace"], "name": found["name"], "dimensions": dict(found["dimensions"]),
                        "stat": stat, "unit": unit}
            d.note(("metrics", key), "ListMetrics: " + evidence)
        else:
            guess_dims = {"AWS/ECS": {"ClusterName": cluster, "ServiceName": by_role.get("ingest") or TODO},
                          "AWS/Kinesis": {"StreamName": stream}, "AWS/RDS": {"DBInstanceIdentifier": instance},
                          "AWS/ApplicationELB": {"LoadBalancer": (lb or {}).get("dimension", TODO)},
                          "AWS/Billing": {"Currency": "USD"}}.get(namespace, {"Service": by_role.get(METRIC_ROLE.get(key, ""), TODO)})
            out[key] = {"namespace": namespace or TODO, "name": name if isinstance(name, str) else TODO,
                        "dimensions": guess_dims, "stat": stat, "unit": unit}
            d.note(("metrics", key), f"ListMetrics lists no such series in {primary.name} ({evidence}): it would read "
                                     "no data", todo=True)
    return out
