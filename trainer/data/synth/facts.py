"""Grounded answers: read a tool's output text and say what it shows, quoting its own figures.

Every number an answer contains is copied from the output it answers (a test checks this on
thousands of episodes), so the model learns to quote, not to invent. Each reader takes the text a
host printed (captured or rendered, the same formats) and returns the answer's sentences; when the
text is not in the expected shape, `generic` quotes its last lines instead of guessing.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Reader = Callable[[str, str, dict], str]  # (stdout, where, params) -> answer


def _cap(where: str) -> str:
    """ "on web-07" → "web-07"; "on this machine" → "This machine": the subject of a sentence."""
    bare = where.removeprefix("on ")
    if bare in ("here", "locally"):
        return "This machine"
    return bare[0].upper() + bare[1:] if bare.startswith(("this", "the")) else bare


def _rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.strip().splitlines() if line.strip()]


def _pct(cell: str) -> int:
    return int(cell.rstrip("%")) if cell.rstrip("%").isdigit() else -1


def df(text: str, where: str, params: dict) -> str:
    rows = [r for r in _rows(text)[1:] if len(r) >= 6 and r[4].endswith("%") and not r[0].startswith("tmpfs")]
    rows = [r for r in rows if r[0] not in ("devtmpfs", "overlay", "shm") or r[5] == "/"]
    if not rows:
        return generic(text, where, params)
    rows.sort(key=lambda r: _pct(r[4]), reverse=True)
    top = rows[0]
    mount = " ".join(top[5:])
    line = (
        f"The fullest filesystem {where} is {mount} at {top[4]} ({top[2]} of {top[1]} used, {top[3]} free)."
    )
    hot = [r for r in rows if _pct(r[4]) >= 90]
    if len(hot) > 1:
        line += " Also nearly full: " + ", ".join(f"{' '.join(r[5:])} at {r[4]}" for r in hot[1:]) + "."
    if _pct(top[4]) >= 90:
        line += f" Next: find what grew with `du -xh {mount} --max-depth=1 | sort -h | tail`."
    else:
        others = ", ".join(f"{' '.join(r[5:])} {r[4]}" for r in rows[1:4])
        line += f" The rest have room ({others})." if others else " Nothing is close to full."
    return line


def df_inodes(text: str, where: str, params: dict) -> str:
    rows = [r for r in _rows(text)[1:] if len(r) >= 6 and r[4].endswith("%")]
    if not rows:
        return generic(text, where, params)
    rows.sort(key=lambda r: _pct(r[4]), reverse=True)
    top = rows[0]
    line = f"Inode use {where} peaks on {top[5]}: {top[4]} ({top[2]} of {top[1]} inodes used)."
    if _pct(top[4]) >= 90:
        line += (
            " New files will fail there even with free space. Next: find the directory with "
            f"millions of small files, e.g. `find {top[5]} -xdev -type d -size +1M`."
        )
    else:
        line += " That is fine."
    return line


def free(text: str, where: str, params: dict) -> str:
    rows = {r[0]: r[1:] for r in _rows(text) if r and r[0] in ("Mem:", "Swap:")}
    mem = rows.get("Mem:")
    if not mem or len(mem) < 6:
        return generic(text, where, params)
    total, used, _free, _shared, cache, avail = mem[:6]
    unit = "MiB" if total.isdigit() else ""
    sp = f" {unit}" if unit else ""
    line = f"{_cap(where)}: {avail}{sp} available of {total}{sp} ({used}{sp} used, {cache}{sp} buff/cache)."
    swap = rows.get("Swap:")
    if swap and swap[0] not in ("0", "0B"):
        line += f" Swap: {swap[1]}{sp} of {swap[0]}{sp} used."
    else:
        line += " No swap is configured."
    if total.isdigit() and avail.isdigit() and int(avail) < int(total) // 8:
        line += " Memory is tight; next, see the biggest processes with `ps aux --sort=-rss | head`."
    return line


def load(text: str, where: str, params: dict) -> str:
    m = re.search(r"up (.*?),\s+\d+ users?,\s+load average: ([\d.]+), ([\d.]+), ([\d.]+)", text)
    if not m:
        return generic(text, where, params)
    up, a, b, c = m.groups()
    return (
        f"{_cap(where)} has been up {up.strip()}; the load averages are {a}, {b} and {c} (last minute first)."
    )


def service_state(text: str, where: str, params: dict) -> str:
    svc = params["svc"]
    state = text.strip().splitlines()[0] if text.strip() else "unknown"
    if state == "active":
        return f"{svc} is active (running) {where}."
    return (
        f'{svc} is not running {where}: systemctl reports "{state}". Next: read why it stopped with '
        f"`journalctl -u {svc} -b --no-pager`."
    )


def service_status(text: str, where: str, params: dict) -> str:
    svc = params["svc"]
    m = re.search(r"Active: (.*)", text)
    if not m:
        return generic(text, where, params)
    active = m.group(1).strip()
    if active.startswith("active"):
        pid = re.search(r"Main PID: (\d+)", text)
        return f"{svc} is {active} {where}" + (f", main PID {pid.group(1)}." if pid else ".")
    code = re.search(r"status=(\d+)", text)
    why = f" Its last run exited with status {code.group(1)}." if code else ""
    return f"{svc} is {active} {where}.{why} Next: `journalctl -u {svc} -b --no-pager` shows the error."


def journal(text: str, where: str, params: dict) -> str:
    svc = params.get("svc", "the unit")
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return f"The journal of {svc} {where} has no entries in that range."
    errors = [ln for ln in lines if "systemd[1]: Started" not in ln and "systemd[1]" not in ln]
    failed = any("Failed with result" in ln or "FAILURE" in ln for ln in lines)
    if errors:
        msg = errors[-1].split(": ", 1)[-1]
        line = f'The latest error for {svc} {where}: "{msg}".'
        if failed:
            line += " systemd then marked the unit failed."
        return line
    return f'The journal of {svc} {where} shows only normal starts; the last line is "{lines[-1].split(": ", 1)[-1]}".'


def kernel(text: str, where: str, params: dict) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return f"No kernel errors or warnings {where}: the output is empty."
    last = re.sub(r"^\[\s*[\d.]+\]\s*", "", lines[-1])
    line = f'The kernel logged errors {where}; the latest: "{last}".'
    if re.search(r"I/O error|EXT4-fs error|nvme.*timeout|failed command", text):
        line += " That points at the disk: check it with `smartctl -a` next."
    elif "Out of memory" in text:
        line += " The OOM killer ran: check memory use and the unit's limits."
    return line


def failed_units(text: str, where: str, params: dict) -> str:
    units = re.findall(r"^●?\s*(\S+\.(?:service|timer|mount|socket))\s+loaded\s+failed", text, re.M)
    if not units:
        return f"No failed units {where}."
    return f"Failed units {where}: {', '.join(units)}. Next: `systemctl status {units[0]}` and its journal say why."


def ports(text: str, where: str, params: dict) -> str:
    found = []
    for row in _rows(text)[1:]:
        if len(row) >= 4 and row[0] == "LISTEN":
            port = row[3].rsplit(":", 1)[-1]
            proc = re.search(r'\(\("([^"]+)"', " ".join(row[5:]))
            found.append(f"{port} ({proc.group(1)})" if proc else port)
    if not found:
        return f"Nothing is listening on TCP {where}."
    return f"Listening TCP ports {where}: {', '.join(found)}."


def kernel_version(text: str, where: str, params: dict) -> str:
    version = text.strip().splitlines()[0] if text.strip() else ""
    return f"{_cap(where)} runs kernel {version}." if version else generic(text, where, params)


def raid(text: str, where: str, params: dict) -> str:
    arrays = re.findall(r"^(md\d+) : (\w+) (\w+)", text, re.M)
    states = re.findall(r"\[(\d+)/(\d+)\] \[([U_]+)\]", text)
    if not arrays or not states:
        return f"No software RAID arrays {where} (/proc/mdstat lists none)."
    name, active, level = arrays[0]
    want, have, bits = states[0]
    if "_" in bits:
        failed = re.findall(r"(\w+)\[\d+\]\(F\)", text)
        who = f" {failed[0]} is marked failed." if failed else ""
        return f"{name} ({level}) {where} is degraded: [{want}/{have}] [{bits}].{who} Replace the disk and re-add it with mdadm."
    return f"{name} ({level}) {where} is healthy: [{want}/{have}] [{bits}], all members up."


def timesync(text: str, where: str, params: dict) -> str:
    m = re.search(r"System clock synchronized: (\w+)", text)
    ntp = re.search(r"NTP service: (\w+)", text)
    if not m:
        return generic(text, where, params)
    if m.group(1) == "yes":
        return f"The clock {where} is synchronized (NTP service {ntp.group(1) if ntp else 'active'})."
    return (
        f"The clock {where} is NOT synchronized; NTP service: {ntp.group(1) if ntp else 'unknown'}. "
        "Next: check chronyd or systemd-timesyncd and that the NTP servers are reachable."
    )


def gpus(text: str, where: str, params: dict) -> str:
    rows = [ln.split(", ") for ln in text.strip().splitlines()[1:] if ln.count(",") >= 4]
    if not rows:
        return generic(text, where, params)
    names = sorted({r[1] for r in rows})
    hot = [r for r in rows if r[-1].strip().isdigit() and int(r[-1]) >= 85]
    line = f"GPUs visible {where}: {', '.join(f'GPU {r[0]}' for r in rows)} ({', '.join(names)})."
    used = "; ".join(f"GPU {r[0]} {r[2]} of {r[3]}" for r in rows[:4])
    line += f" Memory: {used}."
    if hot:
        line += (
            " Running hot: "
            + ", ".join(f"GPU {r[0]} at {r[-1].strip()} C" for r in hot)
            + "; check the fans and airflow."
        )
    return line


def bmc_power(text: str, where: str, params: dict) -> str:
    m = re.search(r"power: (\w+)", text)
    if not m:
        return generic(text, where, params)
    if m.group(1) == "on":
        return f"The BMC of {params['host']} reports power on."
    return f"The BMC of {params['host']} reports power off: the host is down. Powering it on needs an operator's approval."


def bmc_sensors(text: str, where: str, params: dict) -> str:
    readings = re.findall(r"^(.+?): (.+?) \((.+?), (\w+)\)", text, re.M)
    if not readings:
        return generic(text, where, params)
    bad = [r for r in readings if r[3] != "ok"]
    temps = [f"{n} {v}" for n, v, k, h in readings if k == "Temperature"][:3]
    line = f"The BMC of {params['host']} reports"
    line += f" temperatures {', '.join(temps)}." if temps else " its sensors."
    if bad:
        line += " Not ok: " + ", ".join(f"{n} at {v} ({h})" for n, v, k, h in bad) + "."
    else:
        line += " All report ok."
    return line


def bmc_sel(text: str, where: str, params: dict) -> str:
    lines = [ln for ln in text.strip().splitlines() if "|" in ln]
    if not lines:
        return f"The BMC event log of {params['host']} is empty: no hardware events recorded."
    last = [p.strip() for p in lines[-1].split("|")]
    return (
        f"The BMC event log of {params['host']} has entries; the latest, at {last[0]}: "
        f"{last[1]} - {' | '.join(last[2:])}."
    )


def bmc_chassis(text: str, where: str, params: dict) -> str:
    power = re.search(r"^power: (\w+)", text, re.M)
    faults = [k for k, v in re.findall(r"^(.+?): (True)$", text, re.M)]
    if not power:
        return generic(text, where, params)
    line = f"Chassis of {params['host']}: power {power.group(1)}"
    line += f"; faults: {', '.join(faults)}." if faults else "; no faults flagged."
    return line


def http(text: str, where: str, params: dict) -> str:
    m = re.match(r"HTTP/[\d.]+ (\d{3}) ?(.*)", text)
    if not m:
        return generic(text, where, params)
    code, reason = m.groups()
    body = text.split("\n\n", 1)[1].strip() if "\n\n" in text else ""
    status = re.search(r'"status": "(\w+)"', body)
    url = params["url"]
    if code.startswith("2"):
        line = f"{url} answered {code} {reason}".strip()
        return line + (f' with status "{status.group(1)}".' if status else ".")
    line = f"{url} answered {code} {reason}: the service is unhealthy."
    detail = re.search(r'"(?:error|database)": "([^"]+)"', body)
    if detail:
        line += f' It reports "{detail.group(1)}".'
    return line + " Next: check the service's logs on that host."


def generic(text: str, where: str, params: dict) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return f"The command {where} printed nothing."
    shown = "; ".join(lines[-2:])
    return f'The output {where} ends with: "{shown}".'
