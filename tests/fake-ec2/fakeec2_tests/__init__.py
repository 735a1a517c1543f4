"""The fake EC2's tests, one module per area (test_fake_ec2.py runs them):

  lib.py           FakeServer, run_aws (the real CLI), Base and helpers
  instances.py     TestInstances
  reservations.py  TestReservations
  volumes.py       TestVolumes
  auth_faults.py   TestAuthAndFaults
  imds.py          TestIMDS
  hooks.py         TestHooks, TestRealTimers
"""
