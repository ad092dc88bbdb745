#!/usr/bin/env python3
"""Resident memory an Ara server keeps for ACK records: connects one WebSocket client, sends it 3,000
notifications of 32 KB, acknowledges each (`ack`) or none (`noack`), waits WAIT seconds (default 2),
then prints the server's RSS growth. Needs `pip install websockets requests`.

    scripts/ack-memory.py PORT SERVER_PID ack|noack TOKEN
"""
import asyncio, json, os, sys

import requests
import websockets

PORT, PID, ACK, TOKEN = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "ack", sys.argv[4]


def rss_kib():
    for line in open(f"/proc/{PID}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1])


async def main():
    before = rss_kib()
    async with websockets.connect(f"ws://127.0.0.1:{PORT}/ws?token={TOKEN}", max_size=None) as ws:
        await ws.recv()
        http, blob, got = requests.Session(), "x" * (32 * 1024), 0
        for i in range(3000):
            body = {"target_user_id": "m", "event_type": "e", "payload": {"i": i, "blob": blob}}
            http.post(f"http://127.0.0.1:{PORT}/api/v1/notifications/send", json=body)
            while True:
                frame = json.loads(await ws.recv())
                if frame["type"] == "notification":
                    got += 1
                    if ACK:
                        await ws.send(json.dumps({"type": "Ack", "payload": {"notification_id": frame["id"]}}))
                    break
        await asyncio.sleep(float(os.environ.get("WAIT", "2")))
        after = rss_kib()
        print(f"ack={ACK} received={got} rss_before_kib={before} rss_after_kib={after} delta_mib={(after - before) / 1024:.1f}")


asyncio.run(main())
