"""What CloudWatch would decide for a metric alarm. moto 5.2.5 stores alarms and metric data but
never evaluates one against the other (an alarm stays in the state it was created or set in), so
the tests read the deployed alarm and evaluate it here, as CloudWatch documents:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
(evaluation periods, datapoints to alarm, treatment of missing data).

Supported: single-metric alarms with a statistic (not metric math, percentiles or anomaly
detection); anything else fails the test rather than guessing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

_COMPARISONS = {
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
}


@dataclass
class Evaluation:
    alarm: bool
    values: list[float | None]  # one per evaluation period, most recent first; None: no data


def evaluate(cloudwatch: Any, alarm_name: str, at: datetime | None = None) -> Evaluation:
    """The alarm's condition over its evaluation periods ending at `at` (default: now)."""
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"]
    assert "Statistic" in alarm and not alarm.get("Metrics"), f"{alarm_name}: only single-metric alarms"
    compare = _COMPARISONS[alarm["ComparisonOperator"]]
    period = alarm["Period"]
    end = (at or datetime.now(timezone.utc)) + timedelta(seconds=1)
    values: list[float | None] = []
    for i in range(alarm["EvaluationPeriods"]):
        # One query per period: moto's buckets start at the first datapoint, not at StartTime.
        points = cloudwatch.get_metric_statistics(
            Namespace=alarm["Namespace"],
            MetricName=alarm["MetricName"],
            Dimensions=alarm.get("Dimensions", []),
            StartTime=end - timedelta(seconds=period * (i + 1)),
            EndTime=end - timedelta(seconds=period * i),
            Period=period,
            Statistics=[alarm["Statistic"]],
        )["Datapoints"]
        assert len(points) <= 1, points
        values.append(points[0][alarm["Statistic"]] if points else None)
    missing = alarm.get("TreatMissingData", "missing")
    breaching = 0
    considered = 0
    for value in values:
        if value is None:
            if missing in ("missing", "ignore"):
                continue
            breaching += missing == "breaching"
        else:
            breaching += compare(value, alarm["Threshold"])
        considered += 1
    needed = alarm.get("DatapointsToAlarm", alarm["EvaluationPeriods"])
    return Evaluation(alarm=considered > 0 and breaching >= needed, values=values)
