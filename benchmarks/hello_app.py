"""The ceiling: a bare Flask "hello" endpoint on the same server configuration.

Whatever a prediction server does per request costs on top of this; its req/s is the most a
Flask app can reach on this machine and server. It accepts the benchmark's POST and ignores the
body (the server still reads it off the socket).
"""

from __future__ import annotations

from flask import Flask


def create_app() -> Flask:
    """The hello app."""
    app = Flask(__name__)

    @app.route("/", methods=["GET", "POST"])
    def hello() -> str:
        return "Hello, World!"

    @app.get("/readyz")
    def ready() -> dict[str, str]:
        return {"status": "ready"}

    return app
