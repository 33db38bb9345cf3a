"""PLACEHOLDER (being written): loopback /health server."""


class HealthServer:
    def __init__(self, sb):
        self.sb = sb
        self.url = "http://127.0.0.1:0/"

    def start(self) -> None: ...

    def stop(self) -> None: ...
