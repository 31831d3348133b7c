"""A monthly virtual peer group: twins keep in touch between visits in a moderated group chat or call.

Many twinning programmes run such a group (a WhatsApp group of the network's focal persons, for example) at little
cost. Its effect is that of low-intensity contact: Rowe et al. (2018, Lancet Global Health; 337 studies in LMICs)
found strategies of low intensity, such as printed materials alone, to move provider practice by about 1 percentage
point, against 10-16 for supervision and training. *Assumption*: the group transfers along the twins' ties at a
tenth of the default in-person coaching rate (0.015 a month), costs a moderator's platform and time (USD 20 a month
for the network) and half an hour of one focal person's time per member.
"""

from __future__ import annotations

import numpy as np

from twinsim.kernel.state import Param
from twinsim.kernel.surface import Simulation
from twinsim.programme.activity import Activity, Firing, learn_along_ties
from twinsim.programme.costs import ActivityCost

__all__ = ["VirtualPeerGroup"]


class VirtualPeerGroup(Activity):
    """Twins exchange by a moderated group chat or call (one network-wide group a month)."""

    name = "virtual_peer_group"
    scope = "pair"
    mode = "virtual"
    description = "Monthly moderated virtual peer group of twins (group chat or call)."
    default_rate = 0.015
    default_cost = ActivityCost(per_event=20.0, participants=1, days=0.0625)
    source = "assumption, a tenth of in-person coaching (low intensity: Rowe et al. 2018)"

    def fire(self, model: Simulation, rate: Param) -> Firing:
        """Members with twins learn along their ties; one group event per replicate; nobody travels."""
        learn_along_ties(model, rate)
        with_ties = np.bincount(model.ties.learner, minlength=model.n) > 0
        with_ties |= np.bincount(model.ties.mentor, minlength=model.n) > 0
        return Firing(
            np.ones(model.replicates, dtype=np.int64), with_ties.astype(np.int64), np.zeros_like(with_ties, int)
        )
