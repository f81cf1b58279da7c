"""Questions that need no tool: the model answers from what it knows, in a few sentences.

Restraint is a skill of its own: a model trained only on tool episodes calls a tool for every
question (measured: knowledge 0.436 -> 0.000). These pairs are general Linux and hardware facts
an operator asks about, phrased several ways; none is tied to a host.
"""

from __future__ import annotations

# (question variants, answer). The answer is the target text, kept short as the agent's are.
QA: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("What is the difference between a hard link and a symlink?", "hard link vs symbolic link?"),
        "A hard link is another directory entry for the same inode, so it survives the original's "
        "removal but cannot cross filesystems; a symbolic link is a small file holding a path, which "
        "can point anywhere and breaks when the target goes.",
    ),
    (
        ("What does load average mean on Linux?", "Explain the three load average numbers."),
        "Load average is the number of tasks running or waiting for a CPU (and, on Linux, in "
        "uninterruptible I/O wait), averaged over the last 1, 5 and 15 minutes. Compare it with the "
        "core count: above it means work is queueing.",
    ),
    (
        ("What is swap used for?", "Why would a server use swap?"),
        "Swap is disk space the kernel pages rarely used memory out to, freeing RAM for active "
        "work. A little swap use is normal; constant swapping in and out means the host needs more memory.",
    ),
    (
        ("What does the OOM killer do?", "What is the Linux OOM killer?"),
        "When the kernel runs out of memory it picks a process by its oom_score (mostly its memory "
        "size) and kills it to keep the system alive. The kill is logged in the kernel log.",
    ),
    (
        ("What is an inode?", "What are inodes in a Linux filesystem?"),
        "An inode is the filesystem record of one file: owner, permissions, size and where its "
        "data lives, everything except its name. ext4 has a fixed number of them, so millions of small "
        "files can exhaust inodes while space is left.",
    ),
    (
        ("How do I make a systemd service start at boot?", "How do you enable a unit at boot?"),
        "Run `systemctl enable NAME` (add `--now` to also start it). It links the unit into the "
        "target named in its [Install] section, usually multi-user.target.",
    ),
    (
        ("What does systemctl daemon-reload do?", "When do I need daemon-reload?"),
        "It makes systemd re-read unit files from disk. Run it after you edit or add a unit file, "
        "before restarting the service, or systemd keeps using the old definition.",
    ),
    (
        ("What is the difference between RAID 1 and RAID 5?", "RAID1 or RAID5: what's the difference?"),
        "RAID 1 mirrors every block on two or more disks and survives all but one failing; RAID 5 "
        "stripes data with one disk's worth of parity, gives more usable space and survives one disk failure.",
    ),
    (
        ("What is RAID 10?", "Explain RAID 10."),
        "RAID 10 stripes across mirrored pairs: the speed of striping with the redundancy of "
        "mirroring. It survives one failed disk per pair and uses half the raw capacity.",
    ),
    (
        ("What does IPMI stand for?", "What is IPMI used for?"),
        "IPMI is the Intelligent Platform Management Interface: a standard for talking to a server's "
        "management controller out of band, to read sensors and the event log and to control power even "
        "when the OS is down.",
    ),
    (
        ("What is the SEL on a server?", "What does the system event log of a BMC contain?"),
        "The SEL (system event log) is the BMC's log of hardware events: ECC memory errors, power "
        "supply loss, fan and temperature thresholds crossed, chassis intrusion.",
    ),
    (
        ("What does NTP do?", "Why does time synchronization matter on servers?"),
        "NTP keeps the system clock in step with reference servers. Skewed clocks break TLS "
        "validation, Kerberos, log correlation and distributed databases, so every host should sync.",
    ),
    (
        ("What is a zombie process?", "What are zombie processes?"),
        "A zombie has exited but its parent has not yet read its exit status. It holds no memory, "
        "only a process table slot; it disappears when the parent calls wait() or exits.",
    ),
    (
        ("What does chmod 640 mean?", "Explain file mode 640."),
        "640 gives the owner read and write, the group read, and others nothing.",
    ),
    (
        ("What is the difference between TCP and UDP?", "TCP vs UDP?"),
        "TCP is connection-oriented: ordered, reliable delivery with retransmission and flow control. "
        "UDP sends independent datagrams with no delivery guarantee, cheaper and used for DNS, NTP and streaming.",
    ),
    (
        ("Which port does SSH use by default?", "What's SSH's default port?"),
        "SSH listens on TCP port 22 by default.",
    ),
    (
        ("What port does HTTPS use?", "Default port for HTTPS?"),
        "HTTPS uses TCP port 443 by default.",
    ),
    (
        ("What does a 502 Bad Gateway mean?", "What is an HTTP 502?"),
        "A 502 comes from a proxy or load balancer whose upstream returned an invalid response or "
        "none at all: the backend is down, crashed or refusing connections.",
    ),
    (
        ("What does HTTP 503 mean?", "What is a 503 Service Unavailable?"),
        "503 means the server is up but cannot handle the request now: overloaded, in maintenance, "
        "or a health check failing. It is usually temporary.",
    ),
    (
        ("What is a cron expression?", "How do cron schedules work?"),
        "A cron line has five fields, minute, hour, day of month, month and day of week, followed by "
        "the command; `*` means every value, so `0 3 * * *` runs daily at 03:00.",
    ),
    (
        ("What is ECC memory?", "Why do servers use ECC RAM?"),
        "ECC memory stores extra check bits so the controller corrects single-bit errors and detects "
        "double-bit ones. Rising corrected-error counts in the event log mean a DIMM is failing.",
    ),
    (
        ("What does 'No space left on device' mean if df shows free space?",),
        "The filesystem has run out of inodes, or the space is reserved for root, or a deleted file is "
        "still held open. `df -i` shows inodes; `lsof +L1` shows deleted files still open.",
    ),
    (
        ("What is a PID file?", "What are PID files for?"),
        "A PID file holds the process id of a running daemon so scripts and init systems can find and "
        "signal it. A stale one left after a crash can stop the daemon from starting again.",
    ),
    (
        ("What is the difference between SIGTERM and SIGKILL?", "SIGTERM vs SIGKILL?"),
        "SIGTERM asks a process to exit and can be caught, so it can clean up; SIGKILL cannot be "
        "caught or ignored and ends it at once, without cleanup.",
    ),
    (
        ("What does a GPU's ECC error count tell me?",),
        "Corrected ECC errors on a GPU are tolerated in small numbers; uncorrectable ones or a steady "
        "rise mean faulty memory, and the card should be drained and replaced.",
    ),
    (
        ("What is LVM?", "What does LVM give you?"),
        "LVM (Logical Volume Manager) pools disks into volume groups and carves logical volumes from "
        "them, so volumes can grow, move between disks and take snapshots without repartitioning.",
    ),
    (
        ("What does fsck do?", "When should I run fsck?"),
        "fsck checks and repairs a filesystem's metadata. Run it only on an unmounted filesystem (or at "
        "boot), usually after a crash or when the kernel logs filesystem errors.",
    ),
    (
        ("What is a TLS certificate chain?", "What is an intermediate certificate?"),
        "A server's certificate is signed by an intermediate CA whose certificate is signed by a root "
        "the client trusts. The server must send the intermediates, or clients cannot build the chain.",
    ),
    (
        ("What can you do?", "What are you able to help with?", "Who are you?"),
        "I am halops, an operations assistant for your servers. I can run read-only diagnostics on the "
        "halops host (shell) and on inventory hosts (ssh), ask BMCs over IPMI and check HTTP endpoints, "
        "then answer with what they show. Commands that change state wait for an operator's approval.",
    ),
    (
        ("Thanks!", "thank you", "Thanks, that helped."),
        "Glad it helped. Ask again whenever you want something checked.",
    ),
    (
        ("What is the difference between restart and reload for a service?",),
        "restart stops and starts the process, dropping its connections; reload asks the running "
        "process to re-read its configuration (often SIGHUP) without stopping, where the unit supports it.",
    ),
    (
        ("What is a kernel panic?",),
        "A kernel panic is a fatal error the kernel cannot recover from; the system halts or reboots. "
        "The message and stack trace are on the console, in kdump if configured, or in the BMC's event log.",
    ),
)

SUFFIXES = (
    "",
    "",
    " No need to run anything.",
    " Just explain, don't run commands.",
    " Answer briefly.",
    " In a sentence or two, please.",
)
