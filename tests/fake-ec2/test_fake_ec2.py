#!/usr/bin/python3
"""Tests of the fake EC2 API + IMDS (fake_ec2.py), driven by the real AWS CLI.

Run from the repository root:
    /usr/bin/python3 -m unittest tests/fake-ec2/test_fake_ec2.py
or  /usr/bin/python3 tests/fake-ec2/test_fake_ec2.py

Needs /usr/bin/aws (Debian awscli), /usr/bin/curl and python3-botocore.  Every
request goes to a fake started on 127.0.0.1 by these tests; no AWS endpoint,
no 169.254.169.254, no proxy.  Each server is killed by PID on cleanup.

The tests are in fakeec2_tests/, one module per area; this file gathers
their classes, so that `test_fake_ec2.py TestVolumes` runs one class.
"""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # python3 -m unittest tests/fake-ec2/test_fake_ec2.py
    sys.path.insert(0, HERE)
# The tests are imported from the source tree: leave no __pycache__ there.
sys.dont_write_bytecode = True

from fakeec2_tests.auth_faults import TestAuthAndFaults  # noqa: E402
from fakeec2_tests.hooks import TestHooks, TestRealTimers  # noqa: E402
from fakeec2_tests.imds import TestIMDS  # noqa: E402
from fakeec2_tests.instances import TestInstances  # noqa: E402
from fakeec2_tests.reservations import TestReservations  # noqa: E402
from fakeec2_tests.volumes import TestVolumes  # noqa: E402

__all__ = ["TestInstances", "TestReservations", "TestVolumes",
           "TestAuthAndFaults", "TestIMDS", "TestHooks", "TestRealTimers"]

if __name__ == "__main__":
    unittest.main()
