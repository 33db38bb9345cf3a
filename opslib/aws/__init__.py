"""The only code that reads AWS: one module per service, clients passed in (never created here), every list
through boto3's paginators and every batched ``describe_*`` in the API's chunks, written once.

* :mod:`.ecs` services, deployments, tasks, task definitions and their revisions, service environments;
* :mod:`.kinesis` stream summary, shards, records from a position;
* :mod:`.s3` object listings, lifecycle tiers;
* :mod:`.elb` target groups, target health, the listeners' certificates;
* :mod:`.cloudwatch` metric frames, shares of two metrics (the 5xx share), alarms in ALARM;
* :mod:`.cloudtrail` management events, trail status; :mod:`.iam` authorization details, access keys;
* :mod:`.checkpoints` the consumer's checkpoint table; :mod:`.inventory` a region's live inventory;
* :mod:`.alarms` the profile's alert rules against CloudWatch (series, evaluation, alarm, runbook);
* :mod:`.arn` short names of ARNs; :mod:`.access` reads that could not see (credentials, access).
"""
