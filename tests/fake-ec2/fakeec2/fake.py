"""Fake: the whole fake EC2 as one object, made of the parts (one mixin per
concern, see __init__.py).  All state is in State; the mixins hold the
methods and share it through self, under self.lock."""

from .control import Control
from .ec2_api import EC2Endpoint
from .ec2_instances import InstanceActions
from .ec2_subnets import SubnetActions
from .ec2_tags import TagActions
from .ec2_volumes import VolumeActions
from .events import Events
from .faults import Faults
from .imds import IMDS
from .nocloud import NoCloud
from .sigv4 import SigV4
from .state import State


class Fake(EC2Endpoint, SigV4, Faults, InstanceActions, VolumeActions,
           TagActions, SubnetActions, IMDS, NoCloud, Control, Events, State):
    """The fake EC2, IMDS and NoCloud seed (see State for its state)."""

