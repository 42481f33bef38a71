import os
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest


@pytest.fixture
def data_dir():
    """The offline data directory (CI: ../shared/data); tests needing real data skip without."""
    d = os.environ.get("EVAE_LITE_DATA")
    if not d:
        pytest.skip("EVAE_LITE_DATA is not set: no offline copy of the data sets")
    return d


@pytest.fixture
def serve():
    """serve(folder) -> (base URL, list of the paths requested), on a local HTTP server."""
    servers = []

    def start(folder):
        requested = []

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *a, **k):
                super().__init__(*a, directory=str(folder), **k)

            def log_message(self, *a):
                pass

            def do_GET(self):
                requested.append(self.path)
                super().do_GET()

        srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_port}/", requested

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()
