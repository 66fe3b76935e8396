"""A proxyless gRPC C-core client (Python grpcio) driven over stdin/stdout, one JSON object a line.

The twin of xds-client.mjs, for a client of another family: C-core reads its bootstrap from
GRPC_XDS_BOOTSTRAP_CONFIG when the process starts, resolves xds:/// targets through it, and keeps
one channel per target, so later calls see pushed config changes on the same channel. Messages
are JSON, as the Who service of test/xds/support.ts speaks it: no generated code is needed.
"""

import json
import sys

import grpc


def serialize(value):
    return json.dumps(value).encode()


def deserialize(data):
    return json.loads(data)


channels = {}


def who(target):
    channel = channels.get(target)
    if channel is None:
        channel = grpc.insecure_channel(target)
        channels[target] = channel
    return channel.unary_unary(
        "/fedmesh.test.Who/Who",
        request_serializer=serialize,
        response_deserializer=deserialize,
    )


def calls(target, count, deadlineMs, concurrency, metadata=None, **_):
    call = who(target)
    pairs = tuple((k, v) for k, v in (metadata or {}).items())
    counts, errors = {}, {}

    def settle(future):
        try:
            backend = future.result()["backend"]
            counts[backend] = counts.get(backend, 0) + 1
        except grpc.RpcError as err:
            key = f"{err.code().name}: {err.details()}"
            errors[key] = errors.get(key, 0) + 1

    in_flight = []
    for _ in range(count):
        in_flight.append(call.future({}, timeout=deadlineMs / 1000, metadata=pairs))
        if len(in_flight) >= concurrency:
            settle(in_flight.pop(0))
    for future in in_flight:
        settle(future)
    return {"counts": counts, "errors": errors}


def ping(**_):
    return {"grpc": grpc.__version__}


OPS = {"calls": calls, "ping": ping}

for line in sys.stdin:
    request = json.loads(line)
    op = request.pop("op")
    reply_id = request.pop("id")
    reply = OPS[op](**request)
    print(json.dumps({"id": reply_id, **reply}), flush=True)

for channel in channels.values():
    channel.close()
