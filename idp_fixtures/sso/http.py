"""Serve a WSGI app on 127.0.0.1, an ephemeral port, in a daemon thread, without request logs."""

import threading

from werkzeug.serving import WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


class LocalServer:
    """A werkzeug server on 127.0.0.1:0 running in a thread; start() then close()."""

    def __init__(self, app):
        self._http = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
        self.port = self._http.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def start(self):
        """Start serving in the background."""
        self._thread.start()

    def close(self):
        """Stop serving and release the port."""
        if self._thread.is_alive():
            self._http.shutdown()
            self._thread.join(timeout=5)
        self._http.server_close()
