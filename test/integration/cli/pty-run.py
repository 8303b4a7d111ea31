"""Runs a command in a new pseudo-terminal (as a user's shell would) and drives it like a user at the keyboard.

argv[1]: JSON {"argv": [...], "steps": [{"wait": regex, "send": text, "timeout": s}]}: for each step, read the
terminal until `wait` matches the output so far, then type `send`. Prints JSON {"ok", "output", "code"} where
code is the exit status (negative: killed by that signal) and ok is false when a wait timed out.
"""
import json
import os
import pty
import re
import select
import sys
import time

spec = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.execvp(spec['argv'][0], spec['argv'])

out = b''


def read_until(pattern, timeout):
    global out
    end = time.time() + timeout
    while not re.search(pattern.encode(), out):
        if time.time() > end:
            return False
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return False
            if not data:
                return False
            out += data
    return True


ok = True
for step in spec['steps']:
    if not read_until(step['wait'], step.get('timeout', 60)):
        ok = False
        os.kill(pid, 9)
        break
    os.write(fd, step['send'].encode())
while True:
    try:
        data = os.read(fd, 65536)
    except OSError:
        break
    if not data:
        break
    out += data
_, status = os.waitpid(pid, 0)
print(json.dumps({'ok': ok, 'output': out.decode('utf8', 'replace'), 'code': os.waitstatus_to_exitcode(status)}))
