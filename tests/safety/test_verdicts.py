"""The allowlist (read-only diagnostics) and what needs approval (state changes, unknown programs)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.unit

ALLOWED = [
    "df -h",
    "free -m",
    "uptime",
    "ps aux",
    "ps -eo pid,comm,%cpu --sort=-%cpu | head -20",
    "top -b -n 1",
    "journalctl -u nginx --since '1 hour ago' --no-pager",
    "journalctl -p err -n 200",
    "systemctl status nginx",
    "systemctl is-active postgresql",
    "systemctl list-units --failed",
    "systemctl list-timers --all",
    "systemctl --no-pager status sshd",
    "ip addr",
    "ip -br a",
    "ip route show",
    "ss -tlnp",
    "dmesg -T | tail -50",
    "lsblk -f",
    "smartctl -a /dev/sda",
    "smartctl -H /dev/nvme0",
    "sensors",
    "nvidia-smi",
    "nvidia-smi --query-gpu=name,temperature.gpu --format=csv",
    "nvidia-smi -q -d MEMORY",
    "zpool status -x",
    "zpool list",
    "zfs list -t snapshot",
    "docker ps -a",
    "docker logs --tail 100 web",
    "docker stats --no-stream",
    "kubectl get pods -A",
    "kubectl -n prod get deploy",
    "kubectl describe node gpu3",
    "kubectl logs -n prod api-0 --tail=50",
    "cat /etc/os-release",
    "head -n 50 /var/log/syslog",
    "tail -n 100 /var/log/nginx/error.log",
    "grep -i error /var/log/syslog | wc -l",
    "awk '{print $1}' /var/log/nginx/access.log | sort | uniq -c | sort -rn | head",
    "du -sh /var/lib/docker",
    "cat /proc/mdstat",
    "mdadm --detail /dev/md0",
    "uname -a",
    "free -h && df -h",
    "hostname",
    "date",
    "date -u +%s",
    "ls -la /etc/nginx",
    "stat /etc/shadow",
    "ls -l /etc/shadow",
    "curl -s -o /dev/null -w '%{http_code}' http://web1:8080/health",
    "dig +short web1.example.com",
    "getent hosts web1",
    "ipmitool sensor list",
    "ipmitool sel list",
    "iptables -L -n -v",
    "nft list ruleset",
    "ethtool -S eth0",
    "findmnt /",
    "lsof -i :443",
    "cd /var/log && ls",
    "find /var/log -name '*.gz' -mtime +30",
    "sed -n '10,20p' /etc/nginx/nginx.conf",
    "jq .status /srv/app/state.json",
    "wc -l /var/log/syslog",
    "systemctl --failed",
    "ss -s",
    "timedatectl",
    "mount | grep /data",
    "du -sh /var/* 2>/dev/null | sort -h",
    "ps -ef | grep [n]ginx",
]

NEEDS_APPROVAL = [
    ("systemctl restart nginx", "approve.service-control"),
    ("systemctl daemon-reload", "approve.service-control"),
    ("service nginx reload", "approve.service-control-sysv"),
    ("apt-get install -y htop", "approve.package-manager"),
    ("apt upgrade", "approve.package-manager"),
    ("pip install requests", "approve.package-manager"),
    ("kill 1234", "approve.process-signal"),
    ("pkill -HUP nginx", "approve.process-signal"),
    ("reboot", "approve.power"),
    ("shutdown -r now", "approve.power"),
    ("systemctl reboot", "approve.systemctl-power"),
    ("rm /tmp/old.log", "approve.file-change"),
    ("mv /etc/nginx/a.conf /tmp/", "approve.file-change"),
    ("touch /tmp/marker", "approve.file-change"),
    ("vim /etc/hosts", "approve.file-change"),
    ("echo 'x' >> /etc/hosts", "approve.redirect-write"),
    ("docker restart web", "approve.container-change"),
    ("kubectl rollout restart deploy/api", "approve.kubernetes-change"),
    ("kubectl get secret db -o yaml", "approve.secrets-read"),
    ("useradd bob", "approve.user-management"),
    ("mount /dev/sdb1 /mnt", "approve.mount"),
    ("ip link set eth0 down", "approve.network-change"),
    ("zpool scrub tank", "approve.not-allowlisted"),
    ("my-custom-tool --flag", "approve.not-allowlisted"),
    ("tail -f /var/log/syslog", "approve.not-allowlisted"),
    ("top", "approve.not-allowlisted"),
    ("journalctl --vacuum-time=2d", "approve.not-allowlisted"),
    ("smartctl -t long /dev/sda", "approve.not-allowlisted"),
    ("nvidia-smi -pm 1", "approve.not-allowlisted"),
    ("bash /opt/scripts/rotate.sh", "approve.script-file"),
    ("python3 /opt/tool.py", "approve.script-file"),
    ("sudo -i", "approve.interactive"),
    ("env", "approve.environment-print"),
    ("crontab -e", "approve.cron-change"),
    ("grep -r password /etc", "approve.recursive-read"),
    ("docker ps | xargs echo", "approve.xargs"),
    ("docker inspect web", "approve.not-allowlisted"),
    ("ss -K dst 10.0.0.9", "approve.not-allowlisted"),
    ("watch -n 5 df -h", "approve.watch"),
]


@pytest.mark.parametrize("command", ALLOWED)
def test_allowed(decide, command: str) -> None:
    d = decide(command)
    assert d.verdict == "allow", (d.rule, d.reason)
    assert d.command


@pytest.mark.parametrize(("command", "rule"), NEEDS_APPROVAL, ids=[c for c, _ in NEEDS_APPROVAL])
def test_needs_approval(decide, command: str, rule: str) -> None:
    d = decide(command)
    assert (d.verdict, d.rule) == ("approve", rule), d.reason
    assert d.command
