"""Lambda source folder, zipped as-is (handler `app.handler`).

This file only makes mypy name the module `presence.app`, apart from the other Lambdas' `app`.
"""
