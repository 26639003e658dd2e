"""gRPC-Web calls through sonora's client (PyPI), for tests/api/web_grpc.rs.

Reads a JSON list of calls on stdin: {"url", "path", "request" (hex of the
protobuf message), "token" (or null), "timeout" (seconds, or null)}; prints a
JSON list of answers: {"code" (gRPC code number), "message", "response" (hex)}.
The messages stay bytes here: the Rust test encodes and decodes them with the
generated types, so this script knows nothing of creditgate's protos.
"""

import json
import sys

import grpc
from sonora.client import insecure_web_channel


def identity(data):
    return data


def main():
    answers = []
    for call in json.load(sys.stdin):
        with insecure_web_channel(call["url"]) as channel:
            rpc = channel.unary_unary(call["path"], identity, identity)
            metadata = []
            if call.get("token") is not None:
                metadata.append(("authorization", "Bearer " + call["token"]))
            try:
                response = rpc(
                    bytes.fromhex(call["request"]),
                    timeout=call.get("timeout"),
                    metadata=metadata,
                )
                answers.append({"code": 0, "message": "", "response": response.hex()})
            except grpc.RpcError as error:
                answers.append(
                    {
                        "code": error.code().value[0],
                        "message": error.details() or "",
                        "response": "",
                    }
                )
    json.dump(answers, sys.stdout)


if __name__ == "__main__":
    main()
