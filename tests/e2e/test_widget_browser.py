"""The web chat widget in a real headless Chromium, driven through the Chrome DevTools
Protocol (a WebSocket, with aiohttp: no browser-automation dependency): a visitor types a
message into the page and presses send; it reaches Kafka as a MessageReceived; an agent's
reply appears in the page; the page reports it read; a reload shows the whole conversation
again. The connector runs against the real Kafka and PostgreSQL of the local stack.

Chromium is required: when it is missing the test FAILS, saying how to install it."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest

from streams.shared.contract import Contract
from streams.shared.keystore import PostgresKeyStore
from streams.shared.settings import Settings
from tests.integration.connectors.webchat_rig import TopicReader, running_webchat

pytestmark = pytest.mark.timeout(180)
WAIT_S = 30.0
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL = "apt-get install -y chromium"


def _browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        f"no Chromium found (looked for {', '.join(BROWSERS)} on PATH): the widget's browser "
        f"test needs one. On Debian/Ubuntu: `{INSTALL}` (as root), then run the test again."
    )


class PageGone(Exception):
    """The page navigated while an expression ran in it: ask again in the new page."""


class DevTools:
    """A minimal Chrome DevTools Protocol client over one page's WebSocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self._ids)
        await self._ws.send_str(
            orjson.dumps({"id": call_id, "method": method, "params": params}).decode()
        )
        while True:  # events come in between: skip them, they are not asked for here
            msg = await asyncio.wait_for(self._ws.receive(), WAIT_S)
            assert msg.type == aiohttp.WSMsgType.TEXT, f"DevTools connection ended: {msg}"
            answer: dict[str, Any] = orjson.loads(msg.data)
            if answer.get("id") == call_id:
                if "context" in str(answer.get("error", "")).lower():
                    raise PageGone(answer["error"])
                assert "error" not in answer, f"{method}: {answer['error']}"
                result: dict[str, Any] = answer["result"]
                return result

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (a promise is awaited)."""
        result = await self.call(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    async def until(self, condition: str) -> Any:
        """Wait, in the page, until the JavaScript `condition` is truthy; its value (again
        in the new page when the page navigates meanwhile)."""
        waiting = (
            "new Promise((resolve) => { const check = () => { const v = (" + condition + ");"
            " if (v) resolve(v); else setTimeout(check, 25); }; check(); })"
        )

        async def settled() -> Any:
            while True:
                with contextlib.suppress(PageGone):
                    return await self.evaluate(waiting)

        return await asyncio.wait_for(settled(), WAIT_S)


@contextlib.asynccontextmanager
async def chromium(profile: Path) -> AsyncIterator[DevTools]:
    """A headless Chromium with a fresh profile, and a DevTools client on a new page."""
    binary = _browser()
    log_path = profile.parent / "chromium.log"
    with log_path.open("wb") as browser_log:
        process = await asyncio.create_subprocess_exec(
            binary,
            "--headless=new",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "--no-sandbox",  # the tests may run as root, where Chromium's sandbox cannot
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=browser_log,
        )
    try:
        port = await asyncio.wait_for(_devtools_port(profile, process, log_path), WAIT_S)
        async with aiohttp.ClientSession() as http:
            async with http.put(f"http://127.0.0.1:{port}/json/new?about:blank") as response:
                assert response.status == 200, await response.text()
                target = await response.json()
            async with http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                yield DevTools(ws)
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _devtools_port(profile: Path, process: Any, log_path: Path) -> int:
    """The port Chromium chose, from the DevToolsActivePort file it writes when ready."""
    while True:
        if process.returncode is not None:
            pytest.fail(f"Chromium exited ({process.returncode}): {_tail(log_path)}")
        port = _port_in(profile / "DevToolsActivePort")
        if port is not None:
            return port
        await asyncio.sleep(0.05)  # the file appears when the browser is up: poll for it


def _port_in(active: Path) -> int | None:
    lines = active.read_text().splitlines() if active.exists() else []
    return int(lines[0]) if len(lines) >= 2 and lines[0].isdigit() else None


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-2000:]


@pytest.fixture
async def contract(settings: Settings, pg_schema: str) -> AsyncIterator[Contract]:
    """The contract with a key store of this test's own (schema and master key)."""
    pool = await asyncpg.create_pool(settings.postgres.dsn.reveal(), min_size=1, max_size=2)
    store = PostgresKeyStore(pool, os.urandom(32), schema=pg_schema)
    await store.create_tables()
    opened = await Contract.open(settings, keys=store)
    yield opened
    await opened.close()
    await pool.close()


async def test_a_visitor_chats_with_an_agent_in_a_real_browser(
    settings: Settings, contract: Contract, topic: str, pg_schema: str, tmp_path: Path
) -> None:
    _browser()  # fail first, with the install command, when there is no browser
    async with (
        running_webchat(settings, contract, topic, pg_schema) as rig,
        TopicReader(settings, contract, topic) as log,
        chromium(tmp_path / "profile") as page,
    ):
        await page.call("Page.navigate", url=f"{rig.url}/webchat/widget.html")
        await page.until("window.acolheChat && window.acolheChat.connected")

        await page.evaluate(
            "(() => { const box = document.querySelector('#acolhe-chat textarea');"
            " box.value = 'Meu marido me ameaçou, preciso de medida protetiva';"
            " box.dispatchEvent(new Event('input'));"
            " document.querySelector('#acolhe-chat button[type=submit]').click(); })()"
        )
        [received] = await log.wait_for(
            "MessageReceived", text="Meu marido me ameaçou, preciso de medida protetiva"
        )
        acked = await page.until(
            "document.querySelector('#acolhe-chat .acolhe-visitor:not(.acolhe-pending)')"
            "?.dataset.seq"
        )
        session_id = await page.evaluate("window.acolheChat.sessionId")

        reply = await rig.reply_to(
            received["contact_id"],
            received["subject_id"],
            received["contact_address"],
            received["thread_id"],
            "Estou aqui. Você está em segurança agora?",
        )
        shown = await page.until(
            "document.querySelector('#acolhe-chat .acolhe-agent')?.textContent"
        )
        [read] = await log.wait_for(
            "DeliveryStatusChanged", message_id=reply.message_id, status="read"
        )

        await page.call("Page.reload")
        await page.until("window.acolheChat && window.acolheChat.connected")
        history = await page.until(
            "(() => { const all = [...document.querySelectorAll('#acolhe-chat .acolhe-msg')];"
            " return all.length === 2 && all.map((m) => m.dataset.seq + ' ' + m.textContent); })()"
        )

    assert received["channel"] == "web_chat"
    assert received["thread_id"] == session_id
    assert acked == "1"
    assert shown == "Estou aqui. Você está em segurança agora?"
    assert read["causation_id"] == reply.event_id
    assert history == [
        "1 Meu marido me ameaçou, preciso de medida protetiva",
        "2 Estou aqui. Você está em segurança agora?",
    ]


async def test_a_visitor_attaches_a_photo_in_a_real_browser(
    settings: Settings, contract: Contract, topic: str, pg_schema: str, tmp_path: Path
) -> None:
    _browser()
    photo = tmp_path / "rg frente.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(64))
    async with (
        running_webchat(settings, contract, topic, pg_schema) as rig,
        TopicReader(settings, contract, topic) as log,
        chromium(tmp_path / "profile") as page,
    ):
        await page.call("Page.navigate", url=f"{rig.url}/webchat/widget.html")
        await page.until("window.acolheChat && window.acolheChat.connected")
        document = await page.call("DOM.getDocument")
        picker = await page.call(
            "DOM.querySelector",
            nodeId=document["root"]["nodeId"],
            selector="#acolhe-chat input[type=file]",
        )

        # as a visitor choosing the file: the input's change event uploads it, then sends
        await page.call("DOM.setFileInputFiles", files=[str(photo)], nodeId=picker["nodeId"])
        [received] = await log.wait_for("MessageReceived", kind="document")
        acked = await page.until(
            "document.querySelector('#acolhe-chat .acolhe-visitor:not(.acolhe-pending)"
            " .acolhe-file')?.textContent"
        )

    [attachment] = received["attachments"]
    assert attachment["file_name"] == "rg frente.png"
    assert attachment["media_type"] == "image/png"
    assert attachment["sha256"] == hashlib.sha256(photo.read_bytes()).hexdigest()
    assert received["text"] is None
    assert acked == "rg frente.png"
