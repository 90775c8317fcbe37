"""Powertools logger and metrics shared by every function (settings come from ``Globals``)."""

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics()
