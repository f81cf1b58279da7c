"""The console in a real headless Chromium against the real daemon: chat with tool cards,
an approval decided inline and the conversation going on, thumbs-down reaching the data export,
a cross-origin POST refused. A scripted model makes the replies deterministic.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from agent.config import AgentSettings
from agent.wiring import build_daemon
from halops.llm.config import LlmSettings
from tests.agent.test_api import daemon_for
from tests.support.browser import console_errors, screenshot, wait
from tests.support.daemon import serve_daemon
from tests.support.procs import halops_argv
from tests.support.scripted_llm import ScriptedModel, call

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def css(driver, selector):
    return driver.find_elements(By.CSS_SELECTOR, selector)


def ask(driver, text: str) -> None:
    box = wait(lambda: [b for b in css(driver, "#chat-input") if b.is_displayed()][0], message="the chat box")
    box.send_keys(text)
    box.send_keys(Keys.ENTER)  # Enter sends (keyboard use)


def answers(driver) -> list[str]:
    return [e.text for e in css(driver, ".msg.assistant:not([aria-busy]) > .body")]


def test_chat_streams_the_answer_with_a_tool_card(driver, tmp_path, shots):
    script = [call("ssh", host="web1", command="uptime"), "web1 has been up 3 days; load is low."]
    with ScriptedModel(script) as model, serve_daemon(daemon_for(tmp_path, model.url)) as base:
        driver.get(f"{base}/#chat")
        ask(driver, "What is the uptime of web1?")
        wait(lambda: "up 3 days; load is low" in " ".join(answers(driver)), message="the answer")
        (card,) = css(driver, ".tool-card")
        assert card.get_attribute("data-verdict") == "allow"
        text = card.text
        assert "ssh" in text and "on web1" in text and "uptime" in text and "allow.uptime" in text
        assert card.find_element(By.CSS_SELECTOR, ".exit-code").text == "0"
        output = card.find_element(By.CSS_SELECTOR, "details.output")
        assert output.get_attribute("open") is None  # collapsed until asked for
        output.find_element(By.TAG_NAME, "summary").click()
        assert "up 3 days" in output.find_element(By.TAG_NAME, "pre").text
        screenshot(driver, "chat-1280", shots)
        driver.set_window_size(390, 844)
        screenshot(driver, "chat-390", shots)
        width = driver.execute_script("return document.documentElement.scrollWidth")
        assert width <= 390, "the page scrolls sideways on a phone"
        assert not [e for e in console_errors(driver) if "favicon" not in e]


def test_thumbs_down_with_a_reason_reaches_the_next_data_export(driver, tmp_path, shots):
    script = [call("ssh", host="web1", command="uptime"), "Reboot web1 to fix it."]
    with ScriptedModel(script) as model:
        with serve_daemon(daemon_for(tmp_path, model.url)) as base:
            driver.get(f"{base}/#chat")
            ask(driver, "web1 is slow, what now?")
            wait(lambda: css(driver, ".feedback"), message="the feedback buttons")
            bad = [b for b in css(driver, ".feedback button") if "Bad" in b.text][0]
            bad.click()
            reason = wait(lambda: driver.find_element(By.CSS_SELECTOR, ".feedback form input"))
            assert driver.switch_to.active_element == reason  # focus moves to the reason field
            reason.send_keys("rebooting is not a diagnosis")
            reason.send_keys(Keys.ENTER)
            wait(lambda: "marked bad" in driver.find_element(By.CSS_SELECTOR, ".feedback [role=status]").text)
            assert bad.get_attribute("aria-pressed") == "true"
            screenshot(driver, "feedback-1280", shots)
            (tmp_path / "data" / "inventory.yaml").write_text("hosts: {}\n")  # the CLI wants a fleet
            env = {**os.environ, "HALOPS_DATA_DIR": str(tmp_path / "data")}
            out = tmp_path / "export.jsonl"
            subprocess.run(
                halops_argv("agent", "export-transcripts", "-o", str(out)), env=env, check=True, timeout=120
            )
    (line,) = [json.loads(x) for x in out.read_text().splitlines()]
    assert line["metadata"]["feedback"] == -1 and line["metadata"]["votes"] == 1
    assert line["messages"][-1]["content"] == "Reboot web1 to fix it."


def _approval_daemon(fleet, tmp_path, model_url):
    fleet.write_inventory()
    settings = fleet.settings().model_copy(
        update={
            "data_dir": tmp_path / "data",
            "llm": LlmSettings(base_url=model_url, max_retries=0),
            "agent": AgentSettings(rag_k=0),
        }
    )
    return build_daemon(settings)


def test_approve_inline_runs_the_call_and_the_conversation_goes_on(driver, fleet, tmp_path, shots):
    marker = tmp_path / "approved-marker"

    def script(messages):
        last = messages[-1]["content"] or ""
        if "I approved the call" in last:
            shown = "\n".join(m["content"] or "" for m in messages)
            return "Done: the marker file exists now." if '"exit_code": 0' in shown else "It did not run."
        if "<tool_response>" in last:
            return "That needs your approval; I asked for it."
        return call("shell", command=f"touch {marker}")

    with ScriptedModel(script) as model, serve_daemon(_approval_daemon(fleet, tmp_path, model.url)) as base:
        driver.get(f"{base}/#chat")
        ask(driver, "Create the marker file, please.")
        card = wait(
            lambda: css(driver, ".tool-card[data-status=approval_required]")[0], message="approval card"
        )
        assert card.get_attribute("data-verdict") == "approve" and "approve.file-change" in card.text
        assert not marker.exists()
        wait(lambda: "I asked for it" in " ".join(answers(driver)))
        # The Approvals tab counts it too, across conversations.
        wait(lambda: driver.find_element(By.ID, "approvals-count").text == "1")
        screenshot(driver, "approval-pending-1280", shots)
        card.find_element(By.XPATH, ".//button[normalize-space()='Approve']").click()
        wait(lambda: marker.exists(), message="the approved call to run")
        decision = wait(lambda: card.find_element(By.CSS_SELECTOR, ".decision"))
        assert (
            "approved" in decision.text and decision.find_element(By.CSS_SELECTOR, ".exit-code").text == "0"
        )
        # The page tells the agent, whose next turn sees the result.
        wait(
            lambda: "marker file exists now" in " ".join(answers(driver)), message="the conversation to go on"
        )
        screenshot(driver, "approval-decided-1280", shots)
    assert len(re.findall("approved-marker", "".join(json.dumps(r) for r in model.requests))) >= 1


def test_approvals_page_denies_with_a_reason(driver, fleet, tmp_path, shots):
    script = [call("shell", command=f"rm {tmp_path / 'precious'}"), "Waiting for approval."]
    (tmp_path / "precious").write_text("keep me")
    with ScriptedModel(script) as model, serve_daemon(_approval_daemon(fleet, tmp_path, model.url)) as base:
        httpx.post(
            f"{base}/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "clean up"}]},
            timeout=30,
        )
        driver.get(f"{base}/#approvals")
        card = wait(lambda: css(driver, "#approvals-list .tool-card")[0], message="the pending approval")
        assert "rm " in card.text and "approve.file-change" in card.text
        wait(lambda: "expires in" in card.text, message="the time left")
        screenshot(driver, "approvals-1280", shots)
        driver.set_window_size(390, 844)
        screenshot(driver, "approvals-390", shots)
        card.find_element(By.CSS_SELECTOR, "input").send_keys("not on a Friday")
        card.find_element(By.XPATH, ".//button[normalize-space()='Deny']").click()
        wait(lambda: "denied" in card.find_element(By.CSS_SELECTOR, ".decision").text)
        assert httpx.get(f"{base}/v1/approvals").json()["data"] == []
    assert (tmp_path / "precious").exists()


class _EvilPage(BaseHTTPRequestHandler):
    """Another origin (another port on the same host: same *site*, so the cookie goes along)."""

    target = ""

    def log_message(self, *args):
        pass

    def do_GET(self):
        body = f"""<!doctype html><title>evil</title>
<form id=f method=post action="{self.target}/console/logout"></form>
<script>document.getElementById('f').submit()</script>""".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_a_cross_origin_post_from_another_page_is_refused(driver, tmp_path):
    with ScriptedModel(["hi"]) as model, serve_daemon(daemon_for(tmp_path, model.url)) as base:
        driver.get(f"{base}/")
        wait(lambda: driver.find_element(By.ID, "page-chat").is_displayed(), message="the console")
        before = driver.execute_script(
            "return fetch('/console/session').then(r => r.json()).then(b => b.csrf)"
        )
        handler = type("Evil", (_EvilPage,), {"target": base})
        evil = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=evil.serve_forever, daemon=True).start()
        try:
            driver.get(f"http://127.0.0.1:{evil.server_address[1]}/")
            wait(lambda: "origin_not_allowed" in driver.page_source, message="the daemon's refusal")
        finally:
            evil.shutdown()
            evil.server_close()
        driver.get(f"{base}/")
        after = driver.execute_script(
            "return fetch('/console/session').then(r => r.json()).then(b => b.csrf)"
        )
        assert after == before  # still signed in: the forged logout changed nothing


def test_with_a_token_the_page_asks_for_it_once(driver, tmp_path, shots):
    token_file = tmp_path / "token"
    token_file.write_text("a-long-enough-token-value\n")
    script = [call("ssh", host="web1", command="uptime"), "web1 is fine."]
    with (
        ScriptedModel(script) as model,
        serve_daemon(daemon_for(tmp_path, model.url, token_file=token_file)) as base,
    ):
        driver.get(f"{base}/")
        field = wait(
            lambda: [f for f in css(driver, "#login-token") if f.is_displayed()][0], message="sign-in"
        )
        assert driver.switch_to.active_element == field
        assert not driver.find_element(By.ID, "page-chat").is_displayed()
        field.send_keys("not-the-token", Keys.ENTER)
        wait(lambda: "not right" in driver.find_element(By.ID, "login-notice").text)
        screenshot(driver, "login-1280", shots)
        field.clear()
        field.send_keys("a-long-enough-token-value", Keys.ENTER)
        wait(lambda: driver.find_element(By.ID, "page-chat").is_displayed(), message="the console")
        ask(driver, "Is web1 up?")
        wait(lambda: "web1 is fine." in answers(driver), message="the answer")
        cookie = driver.get_cookie("halops_console")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert driver.execute_script("return document.cookie") == ""  # out of any script's reach
        driver.refresh()  # the session outlives a reload; the token is not asked again
        wait(lambda: driver.find_element(By.ID, "page-chat").is_displayed(), message="the console again")
        assert not driver.find_element(By.ID, "login").is_displayed()
