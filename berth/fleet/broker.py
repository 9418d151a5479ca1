"""The broker's own files, for Mosquitto 2: its config, password file and the fleet ACL.

``berth fleet`` writes them (a site's user on binding it), ``berth up --fleet`` starts a broker
on them, and the tests' throwaway broker is built the same way. Passwords are hashed by
Mosquitto's own ``mosquitto_passwd``; the password file is 0600.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from berth.fleet.protocol import acl_text

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"


def have_mosquitto() -> bool:
    return os.access(MOSQUITTO, os.X_OK) and os.access(MOSQUITTO_PASSWD, os.X_OK)


@dataclass(frozen=True)
class BrokerFiles:
    root: Path

    @property
    def conf(self) -> Path:
        return self.root / "mosquitto.conf"

    @property
    def passwd(self) -> Path:
        return self.root / "passwd"

    @property
    def acl(self) -> Path:
        return self.root / "acl"

    @property
    def log(self) -> Path:
        return self.root / "mosquitto.log"

    def write(self, port: int, host: str = "127.0.0.1") -> None:
        """A config with one listener, no anonymous clients, the password file and the ACL."""
        self.root.mkdir(parents=True, exist_ok=True)
        if not self.passwd.exists():
            self.passwd.touch(mode=0o600)
        self.acl.write_text(acl_text())
        self.conf.write_text(
            f"listener {port} {host}\n"
            "allow_anonymous false\n"
            f"password_file {self.passwd}\n"
            f"acl_file {self.acl}\n"
            "persistence false\n"
            # its own user: run as root, mosquitto would switch to `mosquitto` and lose these
            f"user {pwd.getpwuid(os.geteuid()).pw_name}\n"
            f"log_dest file {self.log}\n"
            "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n")

    def add_user(self, name: str, password: str, pid: int | None = None) -> None:
        """Add or replace a user; a running broker (``pid``) rereads the file (SIGHUP)."""
        subprocess.run([MOSQUITTO_PASSWD, "-b", str(self.passwd), name, password], check=True,
                       capture_output=True, timeout=60)
        os.chmod(self.passwd, 0o600)
        if pid is not None:
            os.kill(pid, signal.SIGHUP)

    def command(self) -> list[str]:
        return [MOSQUITTO, "-c", str(self.conf)]
