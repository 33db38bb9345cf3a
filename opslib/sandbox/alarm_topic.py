"""The alarm's SNS topic in the sandbox, and the notification CloudWatch would publish to it.

moto's CloudWatch changes an alarm's state (``runbook sandbox inject api-down`` sets API Down to ALARM)
but does not publish to the alarm's actions; :func:`publish_alarm` publishes the message CloudWatch
sends (same fields) to the alarm's topic, and moto delivers it, signed, to HTTP subscribers such as
``runbook serve``. Works over HTTP with any boto3 clients (tests, drills, the CLI)."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ..aws.alarms import alarm_name

DEFAULT_TOPIC = "pagerduty"


def topic_for(sns: Any, alarm: dict, *, region: str, account: str) -> str:
    """The alarm's first SNS action (created if missing), else the ``pagerduty`` topic."""
    arns = [a for a in alarm.get("AlarmActions", []) if a.startswith("arn:aws:sns:")]
    name = arns[0].rsplit(":", 1)[-1] if arns else DEFAULT_TOPIC
    return sns.create_topic(Name=name)["TopicArn"]


def subscribe(sns: Any, topic_arn: str, endpoint: str) -> str:
    """Subscribe ``endpoint`` (``http://127.0.0.1:PORT/sns``) to the topic; idempotent."""
    protocol = endpoint.split(":", 1)[0]
    return sns.subscribe(TopicArn=topic_arn, Protocol=protocol, Endpoint=endpoint,
                         ReturnSubscriptionArn=True)["SubscriptionArn"]


def alarm_message(alarm: dict, *, region: str, account: str, changed_at: datetime, old_state: str = "OK") -> dict:
    """CloudWatch's SNS notification body for ``alarm``'s current state at ``changed_at``."""
    stamp = changed_at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{changed_at.microsecond // 1000:03d}+0000"
    return {"AlarmName": alarm["AlarmName"], "AlarmDescription": alarm.get("AlarmDescription"),
            "AWSAccountId": account, "AlarmConfigurationUpdatedTimestamp": stamp,
            "NewStateValue": alarm.get("StateValue", "ALARM"), "NewStateReason": alarm.get("StateReason", ""),
            "StateChangeTime": stamp, "Region": region, "OldStateValue": old_state,
            "AlarmArn": alarm.get("AlarmArn") or f"arn:aws:cloudwatch:{region}:{account}:alarm:{alarm['AlarmName']}",
            "Trigger": {k: alarm.get(k) for k in ("MetricName", "Namespace", "Statistic", "Period",
                                                  "EvaluationPeriods", "ComparisonOperator", "Threshold")}}


def publish_alarm(cw: Any, sns: Any, profile: Any, rule_name: str, *, now: datetime, region: str,
                  account: str, topic_arn: str | None = None) -> dict:
    """Publish the alarm of ``rule_name`` as CloudWatch would; returns ``{topic, message_id, message}``."""
    rule = next((r for r in profile.alerts if r.name == rule_name), None)
    if rule is None:
        raise KeyError(f"profile {profile.name} has no alert rule {rule_name!r}")
    found = cw.describe_alarms(AlarmNames=[alarm_name(rule)])["MetricAlarms"]
    alarm = found[0] if found else {"AlarmName": alarm_name(rule), "StateValue": "ALARM"}
    topic = topic_arn or topic_for(sns, alarm, region=region, account=account)
    message = alarm_message(alarm, region=region, account=account, changed_at=now)
    subject = f'ALARM: "{alarm["AlarmName"]}" in {region}'[:100]
    out = sns.publish(TopicArn=topic, Subject=subject, Message=json.dumps(message))
    return {"topic": topic, "message_id": out["MessageId"], "message": message}


def main(argv: list[str] | None = None) -> None:
    """``python -m opslib.sandbox.alarm_topic "API Down" --subscribe http://127.0.0.1:8787/sns``: publish a
    rule's alarm, as CloudWatch would, to its topic in the running sandbox (subscribing the receiver first)."""
    import argparse

    from ..connection import connect
    parser = argparse.ArgumentParser(prog="python -m opslib.sandbox.alarm_topic")
    parser.add_argument("rule", help='the alert rule, e.g. "API Down"')
    parser.add_argument("--subscribe", metavar="URL", help="subscribe this HTTP endpoint to the topic first")
    parser.add_argument("--profile", default="sandbox")
    args = parser.parse_args(argv)
    ops = connect(args.profile)
    if ops.sandbox is None:
        parser.error(f"profile {args.profile} is not the sandbox: in AWS, CloudWatch publishes alarms itself")
    region = ops.profile.aws.primary_region
    sns, cw = ops.client("sns"), ops.client("cloudwatch")
    rule = next((r for r in ops.profile.alerts if r.name == args.rule), None)
    if rule is None:
        parser.error(f"no alert rule {args.rule!r}; allowed: {', '.join(r.name for r in ops.profile.alerts)}")
    alarm = (cw.describe_alarms(AlarmNames=[alarm_name(rule)])["MetricAlarms"] or [{}])[0]
    topic = topic_for(sns, alarm, region=region, account=ops.sandbox.account_id)
    if args.subscribe:
        subscribe(sns, topic, args.subscribe)
    out = publish_alarm(cw, sns, ops.profile, args.rule, now=ops.now(), region=region,
                        account=ops.sandbox.account_id, topic_arn=topic)
    print(json.dumps({"topic": out["topic"], "message_id": out["message_id"], "alarm": out["message"]["AlarmName"],
                      "state": out["message"]["NewStateValue"], "state_change": out["message"]["StateChangeTime"]}))


if __name__ == "__main__":
    main()
