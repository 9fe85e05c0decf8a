"""iotws: serverless WebSockets on AWS IoT Core."""

__version__ = "0.1.0"
