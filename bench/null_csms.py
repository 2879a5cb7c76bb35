"""A null central system: answers every station Call at once with a fixed payload, validates nothing.

    .venv/bin/python bench/null_csms.py --port 9001

Not a baseline to compare the CSMS with (bench/bare_csms.py is): it exists to measure the load
generator's own ceiling (`bench/run.py --scenario generator`), so it must cost far less per message
than the generator does. Hence no WebSocket library: the handshake and the frames are done by hand
(client frames are masked, ours are not; RFC 6455 5.2), the messageId and action are cut out of
the frame without parsing the JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import itertools
import signal
import sys

from websockets.speedups import apply_mask

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 1.3
_transaction_ids = itertools.count(1)
ACCEPTED = b'{"idTagInfo":{"status":"Accepted"}}'
ANSWERS = {
    b"BootNotification": b'{"currentTime":"2025-01-01T00:00:00Z","interval":300,"status":"Accepted"}',
    b"Heartbeat": b'{"currentTime":"2025-01-01T00:00:00Z"}',
    b"Authorize": ACCEPTED,
    b"StopTransaction": ACCEPTED,
}


def frame(payload: bytes, opcode: int = 1) -> bytes:
    size = len(payload)
    if size < 126:
        header = bytes((0x80 | opcode, size))
    elif size < 65536:
        header = bytes((0x80 | opcode, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 127)) + size.to_bytes(8, "big")
    return header + payload


class NullStation(asyncio.Protocol):
    def __init__(self):
        self.buffer = bytearray()
        self.open = False
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.buffer += data
        if not self.open:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            request, self.buffer = bytes(self.buffer[:end]), self.buffer[end + 4:]
            key = next(line.split(b":", 1)[1].strip() for line in request.split(b"\r\n")
                       if line.lower().startswith(b"sec-websocket-key:"))
            accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
            self.transport.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                 b"Sec-WebSocket-Accept: " + accept + b"\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n")
            self.open = True
        buffer = self.buffer
        out = []
        while len(buffer) >= 6:
            opcode, size = buffer[0] & 0x0F, buffer[1] & 0x7F
            offset = 2
            if size == 126:
                size, offset = int.from_bytes(buffer[2:4], "big"), 4
            elif size == 127:
                size, offset = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < offset + 4 + size:
                break
            payload = apply_mask(bytes(buffer[offset + 4:offset + 4 + size]), bytes(buffer[offset:offset + 4]))
            del buffer[:offset + 4 + size]
            if opcode == 8:  # close: echo it and hang up
                self.transport.write(frame(payload[:2], 8))
                self.transport.close()
                return
            if opcode == 9:  # ping
                out.append(frame(payload, 10))
                continue
            if opcode != 1 or not payload.startswith(b"[2,"):
                continue
            # [2,"<messageId>","<Action>",{...}]
            parts = payload.split(b'"', 4)
            message_id, action = parts[1], parts[3]
            if action == b"StartTransaction":
                answer = b'{"transactionId":%d,"idTagInfo":{"status":"Accepted"}}' % next(_transaction_ids)
            else:
                answer = ANSWERS.get(action, b"{}")
            out.append(frame(b'[3,"' + message_id + b'",' + answer + b"]"))
        if out:
            self.transport.write(b"".join(out))


async def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9001)
    args = parser.parse_args(argv)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, lambda: stop.done() or stop.set_result(None))
    server = await loop.create_server(NullStation, args.host, args.port, backlog=4096)
    print(f"null central system on ws://{args.host}:{args.port}/ocpp/{{chargeBoxId}}", flush=True)
    await stop
    server.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
