"""Lambda source folder, zipped as-is (handler `app.handler`).

This file only makes mypy name the module `chat_message.app`, apart from the other Lambdas' `app`.
"""
