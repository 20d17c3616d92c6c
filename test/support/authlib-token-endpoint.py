"""A client-credentials token endpoint built on Authlib (Debian's python3-authlib 1.2).

A token endpoint the team did not write: Authlib does not form-decode Basic
credentials, so it tells whether the broker sends them the way `curl -u`
does. Reads {"clients": [{"client_id": ..., "client_secret": ...}]} as JSON on
stdin (secrets stay off the command line), serves on 127.0.0.1 port 0, and
prints the port on stdout once listening.
"""

import json
import os
import secrets
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

# plain http to loopback, as the broker allows
os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"

from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin, OAuth2Request  # noqa: E402
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant  # noqa: E402
from authlib.oauth2.rfc6750 import BearerTokenGenerator  # noqa: E402


class Client(ClientMixin):
    def __init__(self, client_id, client_secret):
        self.client_id = client_id
        self.client_secret = client_secret

    def get_client_id(self):
        return self.client_id

    def check_client_secret(self, client_secret):
        return secrets.compare_digest(client_secret.encode("utf-8"), self.client_secret.encode("utf-8"))

    def check_endpoint_auth_method(self, method, endpoint):
        return method in ("client_secret_basic", "client_secret_post")

    def check_grant_type(self, grant_type):
        return grant_type == "client_credentials"

    def get_allowed_scope(self, scope):
        return scope or ""


class Grant(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


class Server(AuthorizationServer):
    def __init__(self, clients):
        super().__init__()
        self.clients = clients

    def query_client(self, client_id):
        return self.clients.get(client_id)

    def save_token(self, token, request):
        pass

    def send_signal(self, name, *args, **kwargs):
        pass

    def create_oauth2_request(self, request):
        return request

    def handle_response(self, status, body, headers):
        return status, body, headers


def main():
    config = json.load(sys.stdin)
    clients = {c["client_id"]: Client(c["client_id"], c["client_secret"]) for c in config["clients"]}
    server = Server(clients)
    server.register_grant(Grant)
    server.register_token_generator(
        "default",
        BearerTokenGenerator(access_token_generator=lambda **_: secrets.token_urlsafe(24), expires_generator=lambda *_: 300),
    )

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("content-length") or 0)
            form = dict(parse_qsl(self.rfile.read(length).decode("utf-8")))
            request = OAuth2Request("POST", f"http://127.0.0.1{self.path}", form, self.headers)
            status, body, headers = server.create_token_response(request)
            payload = json.dumps(body).encode("utf-8")
            self.send_response(status)
            for name, value in headers:
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(httpd.server_address[1], flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
