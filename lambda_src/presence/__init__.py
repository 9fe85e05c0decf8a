"""Lambda source folder (zipped as-is; the handler is `app.handler`). Makes mypy name the module `presence.app`."""
