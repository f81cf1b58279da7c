"""The ipmi executor against OpenIPMI's ipmi_sim on a fresh loopback UDP port."""

from __future__ import annotations

import time

import pytest

from agent.executors.output import Streams
from halops.calls import ToolCall
from tests.support.fleet import Fleet, add_bmc
from tests.support.ipmi import free_udp_port

pytestmark = pytest.mark.integration


def ipmi(action: str, host: str = "box", value: str | None = None) -> ToolCall:
    args = {"host": host, "action": action}
    if value is not None:
        args["value"] = value
    return ToolCall(tool="ipmi", arguments=args)


@pytest.fixture
def box(fleet: Fleet, bmc):
    add_bmc(fleet, bmc)
    with fleet.executors(settings={"ipmi_timeout_s": 40}) as ex:
        yield ex


def test_power_status_and_session_reuse(box, bmc) -> None:
    bmc.set_power_state(True)
    r = box.execute(ipmi("power_status"), approved=True)
    assert r.status == "ok", r
    assert r.stdout == "power: on\n"
    bmc.set_power_state(False)
    assert box.execute(ipmi("power_status"), approved=True).stdout == "power: off\n"
    assert box.execute(ipmi("chassis_status"), approved=True).stdout.startswith("power: off\n")
    assert box.ipmi.logins == 1
    bmc.set_power_state(True)


def test_power_cycle_goes_off_then_on(box, bmc) -> None:
    bmc.set_power_state(True)
    before = len(bmc.calls())
    r = box.execute(ipmi("power_cycle"), approved=True)
    assert r.status == "ok", r
    assert "power cycle requested" in r.stdout
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        sets = [c for c in bmc.calls()[before:] if " set power " in c]
        if sets == ["0x20 set power 0", "0x20 set power 1"]:
            break
        time.sleep(0.2)
    assert sets == ["0x20 set power 0", "0x20 set power 1"]
    assert box.execute(ipmi("power_status"), approved=True).stdout == "power: on\n"


def test_power_off_and_on_wait_for_the_state(box, bmc) -> None:
    bmc.set_power_state(True)
    r = box.execute(ipmi("power_off"), approved=True)
    assert r.status == "ok", r
    assert "power: off" in r.stdout
    assert bmc.power_state() == "off"
    r = box.execute(ipmi("power_on"), approved=True)
    assert r.status == "ok", r
    assert bmc.power_state() == "on"


def test_sensors_health_changes(box, bmc) -> None:
    # The first SDR read can take several seconds on a loaded box: one call, generous timeout.
    bmc.set_temperature(48)
    r = box.execute(ipmi("sensors"), approved=True)
    assert r.status == "ok", r
    assert "MBTemp: 48 °C (Temperature, ok)" in r.stdout
    bmc.set_temperature(150)
    time.sleep(1.5)  # the sim polls the file every second
    r = box.execute(ipmi("sensors"), approved=True)
    assert "MBTemp: 150 °C (Temperature, critical)" in r.stdout
    bmc.set_temperature(48)


def test_sel_boot_device_identify(box, bmc) -> None:
    r = box.execute(ipmi("sel_list"), approved=True)
    assert r.status == "ok", r
    r = box.execute(ipmi("boot_device", value="pxe"), approved=True)
    assert r.status == "ok", r
    r = box.execute(ipmi("boot_device"), approved=True)
    assert r.status == "ok" and r.stdout.startswith("boot device: "), r  # the sim keeps no boot flags
    r = box.execute(ipmi("boot_device", value="tape"), approved=True)
    assert r.status in ("error", "denied") and "must be one of" in r.stderr  # executor or policy
    r = box.execute(ipmi("identify", value="on"), approved=True)
    assert r.status == "ok", r
    r = box.execute(ipmi("identify", value="5"), approved=True)
    assert r.status == "ok" and "for 5 s" in r.stdout
    assert any("set identify" in c for c in bmc.calls())
    r = box.execute(ipmi("sel_clear"), approved=True)
    assert r.status == "ok" and "event log cleared" in r.stdout


def test_wrong_password_is_reported_and_not_retried(fleet: Fleet, bmc) -> None:
    add_bmc(fleet, bmc, password="not-the-password")
    with fleet.executors() as ex:
        r = ex.execute(ipmi("power_status"), approved=True)
        assert r.status == "error"
        assert "rejected the login" in r.stderr and "locked out" in r.stderr
        assert "not-the-password" not in r.stderr
        # A second call does not touch the BMC: no retry storm that would lock the account.
        t0 = time.monotonic()
        r2 = ex.execute(ipmi("power_status"), approved=True)
        assert r2.status == "error"
        assert "not attempting to log in" in r2.stderr
        assert time.monotonic() - t0 < 0.5
        assert ex.ipmi.logins == 0
        # Fixing the password file lifts the block at once.
        fleet.credential("box_bmc", bmc.password + "\n")
        r3 = ex.execute(ipmi("power_status"), approved=True)
        assert r3.status == "ok", r3
        assert ex.ipmi.logins == 1


def test_unreachable_bmc(fleet: Fleet, bmc) -> None:
    add_bmc(fleet, bmc)
    fleet.hosts["box"]["bmc"]["port"] = free_udp_port()  # nothing answers there
    with fleet.executors(settings={"ipmi_timeout_s": 20}) as ex:
        t0 = time.monotonic()
        r = ex.execute(ipmi("power_status"), approved=True)
    assert r.status == "error", r
    assert "no answer from a BMC" in r.stderr
    assert time.monotonic() - t0 < 15


def test_wall_clock_limit_returns_a_timeout(fleet: Fleet, bmc) -> None:
    add_bmc(fleet, bmc)
    fleet.hosts["box"]["bmc"]["port"] = free_udp_port()
    with fleet.executors() as ex:
        t0 = time.monotonic()
        r = ex.execute(ipmi("power_status"), approved=True, timeout_s=1.0)
        assert r.status == "timeout", r
        assert time.monotonic() - t0 < 2
        # The BMC is still busy with the abandoned login: a second call says so, on time.
        r = ex.execute(ipmi("power_status"), approved=True, timeout_s=0.5)
        assert r.status == "timeout"
        assert "busy" in r.stderr


def test_host_without_bmc(fleet: Fleet) -> None:
    fleet.hosts["plain"] = {"address": "127.0.0.1"}
    with fleet.executors() as ex:
        r = ex.execute(ipmi("power_status", host="plain"), approved=True)
        assert r.status in ("denied", "error") and "bmc" in r.stderr.lower()  # the policy says it first
        o = ex.ipmi.run("plain", ex.inventory.get("plain"), ipmi("power_status").typed(), Streams(1024))
    assert o.result.status == "error" and "no bmc entry" in o.result.stderr
