"""Tool executors: ssh, ipmi, http and local shell, every call behind the safety policy."""
