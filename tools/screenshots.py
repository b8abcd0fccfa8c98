"""Render screenshots of a running Odoo into docs/ with headless Chromium.

Used by ``make screenshots`` (tools/kpi.py starts the demo server first). It
logs in through Odoo's JSON-RPC, hands the session cookie to Chromium over the
DevTools protocol and captures each page once it has settled.
"""

import base64
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path

import websocket  # websocket-client, in requirements.txt

PAGES = [
    ("overview", "/odoo/action-crm_strategic_kpi.crm_kpi_overview_action"),
    ("pivot", "/odoo/action-crm_strategic_kpi.crm_kpi_value_action"),
    ("graph", "/odoo/action-crm_strategic_kpi.crm_kpi_value_action_trend"),
    ("goal_form", "/odoo/action-crm_strategic_kpi.crm_kpi_goal_action/{goal_id}"),
    ("change_breakdown", "/odoo/crm.kpi.change.breakdown/{breakdown_id}"),
]


def _rpc(base, path, params, cookie=None):
    request = urllib.request.Request(
        base + path,
        data=json.dumps({"jsonrpc": "2.0", "params": params}).encode(),
        headers={"Content-Type": "application/json"},
    )
    if cookie:
        request.add_header("Cookie", f"session_id={cookie}")
    with urllib.request.urlopen(request, timeout=30) as response:
        cookie = (
            cookie or response.headers.get("Set-Cookie", "").split(";")[0].split("=")[1]
        )
        return json.loads(response.read())["result"], cookie


def _first_running_goal(base, cookie):
    result, _ = _rpc(
        base,
        "/web/dataset/call_kw",
        {
            "model": "crm.kpi.goal",
            "method": "search_read",
            "args": [[["state", "=", "running"]], ["id"]],
            "kwargs": {"limit": 1},
        },
        cookie,
    )
    return result[0]["id"] if result else 1


def _won_revenue_breakdown(base, cookie):
    """A breakdown of won revenue, last complete month against the one
    before, by sales team (what *Why?* on the overview card opens)."""
    today = date.today()
    last = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    before = (last - timedelta(days=1)).replace(day=1)
    kpis, _ = _rpc(
        base,
        "/web/dataset/call_kw",
        {
            "model": "crm.kpi",
            "method": "search_read",
            "args": [[["code", "=", "won_revenue"]], ["id"]],
            "kwargs": {},
        },
        cookie,
    )
    action, _ = _rpc(
        base,
        "/web/dataset/call_kw",
        {
            "model": "crm.kpi.change.breakdown",
            "method": "action_open",
            "args": [
                {
                    "kpi_id": kpis[0]["id"],
                    "date_from": last.isoformat(),
                    "months": 1,
                    "previous_from": before.isoformat(),
                    "previous_months": 1,
                    "label": last.strftime("%B %Y"),
                    "previous_label": before.strftime("%B %Y"),
                }
            ],
            "kwargs": {},
        },
        cookie,
    )
    return action["res_id"]


class Chrome:
    def __init__(self, width=1440, height=900):
        binary = shutil.which("chromium") or shutil.which("google-chrome")
        self.profile = tempfile.mkdtemp(prefix="kpi_chrome_")
        self.proc = subprocess.Popen(
            [
                binary,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--window-size={width},{height}",
                f"--user-data-dir={self.profile}",
                "--remote-debugging-port=0",
                "about:blank",
            ],
            stderr=subprocess.DEVNULL,
        )
        port_file = Path(self.profile, "DevToolsActivePort")
        for _ in range(100):
            if port_file.exists() and port_file.read_text().strip():
                break
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json") as response:
            target = next(t for t in json.loads(response.read()) if t["type"] == "page")
        self.ws = websocket.create_connection(target["webSocketDebuggerUrl"])
        self.next_id = 0

    def send(self, method, **params):
        self.next_id += 1
        self.ws.send(
            json.dumps({"id": self.next_id, "method": method, "params": params})
        )
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                return message.get("result", {})

    def close(self):
        self.ws.close()
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)


def capture(base, database, out_dir, login="admin", password="admin"):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _result, cookie = _rpc(
        base,
        "/web/session/authenticate",
        {"db": database, "login": login, "password": password},
    )
    goal_id = _first_running_goal(base, cookie)
    breakdown_id = _won_revenue_breakdown(base, cookie)
    chrome = Chrome()
    try:
        chrome.send("Network.enable")
        chrome.send(
            "Network.setCookie",
            name="session_id",
            value=cookie,
            url=base,
        )
        written = []
        wait = 30  # the first page also builds the asset bundles
        for name, path in PAGES:
            url = base + path.format(goal_id=goal_id, breakdown_id=breakdown_id)
            chrome.send("Page.navigate", url=url)
            time.sleep(wait)  # let the web client load, fetch and render
            wait = 6
            data = chrome.send("Page.captureScreenshot", format="png")["data"]
            target = out_dir / f"{name}.png"
            target.write_bytes(base64.b64decode(data))
            written.append(target)
        return written
    finally:
        chrome.close()
