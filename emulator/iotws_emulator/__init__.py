"""Local IoT Core data plane for development and tests."""
