"""The parts of the fake EC2 (tests/fake-ec2/fake_ec2.py is the entry point).

Fake (fake.py) is one object holding all state under one lock; its methods
come from one mixin per concern, each in its own module:

  common.py         constants, EC2Error, log(), iso(), XML rendering
  params.py         Query API parameters: lists, filters, ids, ParamChecker
  model.py          Instance, Volume, CidrReservation
  state.py          State: reset, clocks, lifecycle (tick), addresses,
                    ClientToken idempotency, lookups, pagination
  events.py         Events: state log, hooks (one worker, event order)
  ec2_instances.py  InstanceActions: Describe/Run/TerminateInstances,
                    launch templates, instance profiles
  ec2_volumes.py    VolumeActions: Describe/Create/Attach/DetachVolume
  ec2_tags.py       TagActions: TagSpecification, Create/DeleteTags
  ec2_subnets.py    SubnetActions: DescribeSubnets, subnet CIDR reservations
  ec2_api.py        EC2Endpoint: POST / -- auth, faults, dispatch, call log
  sigv4.py          SigV4: the Authorization header, checked with botocore
  faults.py         Faults: injected errors and latency (/_fake/faults)
  imds.py           IMDS: /latest/... (IMDSv2 tokens, metadata, credentials)
  nocloud.py        NoCloud: /nocloud/... (cloud-init seed)
  control.py        Control: the /_fake/... JSON control API and seeds
  server.py         Handler: the HTTP front, routes a request by its path
"""

