"""CPU seconds (user + system) of every thread of a process so far, from /proc: what the
small-request load scripts (load.py, first.py) divide by their request counts."""
import os


def cpu(pid: int) -> float:
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        fields = open(f"/proc/{pid}/task/{task}/stat").read().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")
