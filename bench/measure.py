#!/usr/bin/python3
"""Runs a command and records its wall time and peak RSS (the child's
ru_maxrss from wait4, so nothing but the command itself is counted).
The command's stdout and stderr pass through unchanged.

Usage: measure.py OUT_FILE COMMAND [ARGS...]
OUT_FILE receives one line: wall_s=X cpu_s=C peak_rss_mb=Y exit=Z (cpu_s:
user + system time of the command, which other load on the machine does
not inflate as it does wall time)
The exit status is the command's."""
import os
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out, cmd = sys.argv[1], sys.argv[2:]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    p.returncode = code  # reaped already; keeps Popen from waiting again
    with open(out, "w") as f:
        cpu = ru.ru_utime + ru.ru_stime
        f.write(f"wall_s={wall:.3f} cpu_s={cpu:.3f} peak_rss_mb={ru.ru_maxrss / 1024:.0f} exit={code}\n")
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
