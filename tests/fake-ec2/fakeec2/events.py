"""Events: every state change is emit()ted: one line in the state log
(--state-log, JSON lines, written under the lock) and, for the hooked
events, a run of the --hook command on one worker thread, in event order."""

import json
import shlex
import subprocess
import time

from .common import ALIVE, LOGICAL_ID_TAG, ROLE_TAG, iso, log


class Events:
    # -- events, state log, hooks ------------------------------------------
    HOOKED = ("instance-running", "instance-terminated", "volume-attached",
              "volume-detached")

    def state_record(self, event, args):
        """The state log line: event and args (as the hooks get them) plus
        the state they lead to, so that a checker needs no other source."""
        rec = {"time": iso(time.time()), "t": round(time.time(), 6),
               "clock": round(self.now(), 6), "event": event,
               "args": list(args)}
        if event.startswith("instance-"):
            inst = self.instances.get(args[0])
            if inst is not None:
                rec.update(kind="instance", instance=inst.id,
                           state=inst.state, live=inst.state in ALIVE,
                           logical_id=inst.tags.get(LOGICAL_ID_TAG),
                           role=inst.tags.get(ROLE_TAG),
                           private_ip=inst.private_ip,
                           ip_auto=inst.ip_auto,
                           client_token=inst.client_token,
                           iam_instance_profile=inst.iam_arn)
        elif event in ("volume-attaching", "volume-attached",
                       "volume-detaching", "volume-detached"):
            rec.update(kind="attachment", volume=args[0], instance=args[1],
                       status=event[len("volume-"):])
            vol = self.volumes.get(args[0])
            if vol is not None:
                rec["root"] = vol.root
        elif event.startswith("volume-"):
            rec.update(kind="volume", volume=args[0])
        elif event.startswith("subnet-cidr-reservation-"):
            rec.update(kind="reservation", reservation=args[0],
                       subnet=args[1], cidr=args[2], type=args[3],
                       active=event.endswith("-created"))
        return rec

    def emit(self, event, *args, hook=True):
        if self.args.state_log:
            with open(self.args.state_log, "a") as f:
                f.write(json.dumps(self.state_record(event, args)) + "\n")
        if hook and self.args.hook and (
                event in self.HOOKED or
                (event == "instance-shutting-down" and
                 self.args.hook_shutting_down)):
            self.hooks.put((event, [str(a) for a in args]))

    def hook_worker(self):
        # One worker: hooks run strictly in the order the events happened.
        while True:
            event, args = self.hooks.get()
            cmd = shlex.split(self.args.hook) + [event] + args
            t0 = time.time()
            try:
                self.hook_proc = subprocess.Popen(
                    cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE)
                try:
                    _, err = self.hook_proc.communicate(timeout=600)
                except subprocess.TimeoutExpired:
                    self.hook_proc.kill()
                    _, err = self.hook_proc.communicate()
                rc = self.hook_proc.returncode
                if rc:
                    log("hook %s failed rc=%d: %s" % (
                        " ".join(cmd), rc,
                        err.decode(errors="replace").strip()[-500:]))
            except (OSError, subprocess.SubprocessError) as e:
                rc = -1
                log("hook %s failed: %s" % (" ".join(cmd), e))
            self.hook_log.append({"event": event, "args": args, "rc": rc,
                                  "seconds": round(time.time() - t0, 3)})
            self.hooks.task_done()
